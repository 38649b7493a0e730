import { createInterface } from 'node:readline/promises';
import { Command } from 'commander';
import {
  describeSession,
  formatAge,
  formatBytes,
  formatCheck,
  formatSeconds,
  OpsError,
  parseBefore,
  restore,
  restoreSitesOf,
  type RestoreReport,
  type RestoreSummary,
} from '../lib/index.js';
import { loggerFor, output, settingsFrom, withTargetOptions, type GlobalOptions, withInterrupt } from './context.js';

type RestoreFlags = GlobalOptions & { into?: string; yes?: boolean; force?: boolean; latestUnverified?: boolean; before?: string; updateTo?: string };

/** What the person confirms: the backup against what is live now, after every check passed. */
function formatSummary(s: RestoreSummary): string {
  const age = formatAge((Date.now() - new Date(s.backup.createdAt).getTime()) / 1000);
  const width = Math.max(5, ...s.rows.map((r) => r.table.length));
  const n = (v: number | null) => (v === null ? '-' : v.toLocaleString('en-US')).padStart(12);
  return [
    `backup ${s.backup.id}: taken ${s.backup.createdAt} (${age} ago), ${formatBytes(s.backup.bytes)}, ${s.backup.status}`,
    `every check passed on the restored copy:`,
    ...s.checks.map(formatCheck),
    `  ${'table'.padEnd(width)} ${'backup rows'.padStart(12)} ${'live rows'.padStart(12)}`,
    ...s.rows.map((r) => `  ${r.table.padEnd(width)} ${n(r.backup)} ${n(r.live)}`),
    s.liveExists ? `"${s.live}" will be replaced; it is kept as "${s.previous}" for a rollback` : `"${s.live}" does not exist yet; the backup will be restored under that name`,
    ...(s.sessions.length > 0 ? [`these sessions will be ended (--force): ${s.sessions.map(describeSession).join('; ')}`] : []),
  ].join('\n');
}

export function formatRestore(r: RestoreReport): string {
  const lines = [`restored backup ${r.backup.id} (taken ${r.backup.createdAt}) into "${r.live}" in ${formatSeconds(r.seconds)} (RTO ${formatSeconds(r.rtoSeconds)})`];
  if (r.swap.terminated.length > 0) lines.push(`ended ${r.swap.terminated.length} session(s): ${r.swap.terminated.map(describeSession).join('; ')}`);
  if (r.swap.previous) {
    lines.push(`the previous data is kept as "${r.swap.previous}"`);
    lines.push(`to roll back (stop the application first), run ${r.swap.stepsWhere}:`, ...r.swap.rollback.map((s) => `  ${s}`));
    lines.push(`to drop the previous data once you trust the restored one:`, ...r.swap.drop.map((s) => `  ${s}`));
  }
  if (r.cleaned.length > 0) lines.push(`removed leftovers of interrupted runs: ${r.cleaned.join(', ')}`);
  const ts = r.timescaledb;
  if (ts.restoredAt !== null && ts.updatedTo !== null && ts.updatedTo !== ts.restoredAt) {
    lines.push(`TimescaleDB: restored at ${ts.restoredAt} (the dump's version), then updated to ${ts.updatedTo} and checked again`);
  }
  return lines.join('\n');
}

/** Asks on the terminal; Ctrl-C or anything but "y"/"yes" cancels. */
async function askOnTerminal(summary: RestoreSummary): Promise<boolean> {
  process.stderr.write(`${formatSummary(summary)}\n`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.once('SIGINT', () => resolve(''));
      rl.question(`swap the restored copy in as "${summary.live}" now? [y/N] `).then(resolve, () => resolve(''));
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export const restoreCommand = withTargetOptions(new Command('restore'))
  .description('restore a backup beside the live database, check it, then swap it in (the previous one is kept)')
  .argument('[backup]', 'backup id or folder; default: the newest verified backup')
  .option('--into <name>', 'restore under this database name (embedded: data directory) instead of the live one')
  .option('--yes', 'do not ask for confirmation (needed without a terminal)')
  .option('--force', 'end sessions connected to the live database (they are listed first)')
  .option('--latest-unverified', 'allow the newest backup that has not passed a drill yet')
  .option('--before <time>', 'the newest backup taken before this time, e.g. "2026-11-20 10:00" (local time)')
  .option('--update-to <version>', "after the checks, update TimescaleDB to this version (default: the server's default version)")
  .option('--dir <dir>', 'backup directory (or AETHERLENS_BACKUP_DIR; default .aetherlens/backups)')
  .option('--json', 'print the result as JSON')
  .action(async (backupRef: string | undefined, options: RestoreFlags) => {
    if (backupRef && (options.latestUnverified || options.before)) throw new OpsError('USAGE', 'name a backup, or choose one with --latest-unverified / --before, not both');
    const interactive = process.stdin.isTTY === true && process.stderr.isTTY === true;
    if (!options.yes && !interactive) {
      throw new OpsError('USAGE', 'restore replaces the live database and asks for confirmation first: run it in a terminal, or pass --yes');
    }
    const before = options.before !== undefined ? parseBefore(options.before) : undefined;
    const settings = settingsFrom(options);
    const logger = loggerFor(options);
    await withInterrupt(async (signal) => {
      const report = await restore({
        // Not an open Target: the restore replaces the data an open embedded Target holds.
        target: restoreSitesOf(settings.target, settings.pgBinDir ? { pgBinDir: settings.pgBinDir } : {}),
        backupDir: settings.backupDir,
        selection: { ...(backupRef ? { backup: backupRef } : {}), ...(options.latestUnverified ? { latestUnverified: true } : {}), ...(before ? { before } : {}) },
        ...(options.into !== undefined ? { into: options.into } : {}),
        ...(options.force ? { force: true } : {}),
        confirm: options.yes ? async (summary) => (logger.info(formatSummary(summary)), true) : askOnTerminal,
        ...(options.updateTo ? { updateTo: options.updateTo } : {}),
        signal,
        logger,
      });
      output(options, report, formatRestore);
    });
  });
