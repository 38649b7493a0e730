import { Command } from 'commander';
import { migrationStatus, withTarget, type StatusResult } from '../lib/index.js';
import { output, settingsFrom, withTargetOptions, type GlobalOptions } from './context.js';
import { statusBackups } from './schedule.js';

function formatStatus(status: StatusResult): string {
  const rows = status.migrations.map((m) => `  ${String(m.version).padStart(3, '0')} ${m.name.padEnd(28)} ${m.state}${m.adopted ? ' (adopted)' : ''}${m.appliedAt ? `  ${m.appliedAt}` : ''}`);
  return [
    `head: ${status.head ?? 'none'}   pending: ${status.pending}   TimescaleDB: ${status.timescaleVersion ?? 'not installed'} (${status.edition ?? 'unknown'} edition)`,
    ...rows,
    ...status.problems.map((p) => `problem: ${p}`),
  ].join('\n');
}

export const statusCommand = withTargetOptions(new Command('status'))
  .description('show applied, pending and drifted migrations')
  .option('--json', 'print the status as JSON')
  .option('--backups', 'instead: the scheduler\'s backups; exit 1 when the last verified one is older than the limit')
  .option('--dir <dir>', 'with --backups: backup directory (or AETHERLENS_BACKUP_DIR)')
  .option('--status-file <file>', 'with --backups: the scheduler\'s status file (default <dir>/scheduler-status.json)')
  .option('--max-age <duration>', 'with --backups: stale beyond this (default 1.5 × the backup interval)')
  .action(async (options: GlobalOptions & { backups?: boolean; statusFile?: string; maxAge?: string }) => {
    if (options.backups) return statusBackups(options);
    const settings = settingsFrom(options);
    const status = await withTarget(settings.target, 'status', (target) => migrationStatus({ connection: target.connection, migrationsDir: settings.migrationsDir }));
    output(options, status, formatStatus);
    if (status.problems.length > 0) process.exitCode = 1;
  });
