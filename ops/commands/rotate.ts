import { Command } from 'commander';
import { rotate, type RotateResult } from '../lib/index.js';
import { loggerFor, output, settingsFrom, withTargetOptions, type GlobalOptions } from './context.js';

function formatRotate(r: RotateResult): string {
  const p = r.policy;
  const header = `retention: ${p.daily} daily, ${p.weekly} weekly, ${p.monthly} monthly (only verified backups count)`;
  if (r.decisions.length === 0) return `${header}\nno backups: nothing to rotate`;
  const idWidth = Math.max(...r.decisions.map((d) => d.id.length));
  const lines = r.decisions.map((d) => `${(d.action === 'keep' ? 'keep' : r.dryRun ? 'would delete' : 'deleted').padEnd(12)}  ${d.id.padEnd(idWidth)}  ${d.status.padEnd(10)}  ${d.reason}`);
  const count = r.dryRun ? r.delete.length : r.deleted.length;
  const summary = r.dryRun
    ? `dry run: would delete ${count} of ${r.decisions.length} backups; nothing was deleted`
    : `deleted ${count} of ${r.decisions.length} backups`;
  return [header, ...lines, summary].join('\n');
}

// The target flags too, as on every command: the catalog is the same whichever target wrote it.
export const rotateCommand = withTargetOptions(new Command('rotate'))
  .description('delete old backups, grandfather-father-son by count over verified backups; --dry-run shows the plan')
  .option('--dir <dir>', 'backup directory (or AETHERLENS_BACKUP_DIR; default .aetherlens/backups)')
  .option('--keep-daily <n>', 'newest verified backup of each of the last N days that have one (or AETHERLENS_KEEP_DAILY; default 7)')
  .option('--keep-weekly <n>', 'same per ISO week (or AETHERLENS_KEEP_WEEKLY; default 4)')
  .option('--keep-monthly <n>', 'same per month (or AETHERLENS_KEEP_MONTHLY; default 12)')
  .option('--dry-run', 'print what would be kept and deleted, and why; delete nothing')
  .option('--json', 'print the plan as JSON')
  .action(async (options: GlobalOptions & { keepDaily?: string; keepWeekly?: string; keepMonthly?: string; dryRun?: boolean }) => {
    const settings = settingsFrom(options);
    const result = await rotate({ dir: settings.backupDir, policy: settings.retention, dryRun: options.dryRun === true, logger: loggerFor(options) });
    output(options, result, formatRotate);
  });
