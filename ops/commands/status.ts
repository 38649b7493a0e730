import { Command } from 'commander';
import { backupHealth, formatAge, lastVerifiedBackup, migrationStatus, withTarget, type BackupHealth, type StatusResult } from '../lib/index.js';
import { output, settingsFrom, withTargetOptions, type GlobalOptions } from './context.js';

function formatStatus(status: StatusResult): string {
  const rows = status.migrations.map((m) => `  ${String(m.version).padStart(3, '0')} ${m.name.padEnd(28)} ${m.state}${m.adopted ? ' (adopted)' : ''}${m.appliedAt ? `  ${m.appliedAt}` : ''}`);
  return [
    `head: ${status.head ?? 'none'}   pending: ${status.pending}   TimescaleDB: ${status.timescaleVersion ?? 'not installed'} (${status.edition ?? 'unknown'} edition)`,
    ...rows,
    ...status.problems.map((p) => `problem: ${p}`),
  ].join('\n');
}

function formatHealth(h: BackupHealth): string {
  const when = (iso: string | undefined) => (iso ? iso.replace(/\.\d{3}Z$/, 'Z') : '-');
  const lines = [
    `backups: ${h.state.toUpperCase()}: ${h.message}`,
    `scheduler: ${h.scheduler.running ? `running (pid ${h.scheduler.pid} on ${h.scheduler.host}, since ${when(h.scheduler.since)})` : 'not running'}`,
  ];
  if (h.lastVerified) lines.push(`last verified: ${h.lastVerified.name}, taken ${when(h.lastVerified.createdAt)}${h.lastVerified.restoreSeconds !== undefined ? `, restore drill ${h.lastVerified.restoreSeconds} s` : ''}`);
  if (h.lastAttempt) lines.push(`last attempt: ${when(h.lastAttempt.startedAt)} ${h.lastAttempt.verdict} (${h.lastAttempt.trigger}, ${h.lastAttempt.seconds} s)`);
  if (h.lastSuccess) lines.push(`last success: ${when(h.lastSuccess.at)} ${h.lastSuccess.backup} (${h.lastSuccess.bytes} bytes in ${h.lastSuccess.seconds} s)`);
  if (h.lastError) lines.push(`last error: ${when(h.lastError.at)} ${h.lastError.step}: ${h.lastError.message}`);
  if (h.nextRuns.length > 0) lines.push(`next runs: ${h.nextRuns.map((r) => `${when(r.at)}${r.reason === 'dst-gap' ? ' (replaces a slot skipped by DST)' : ''}`).join(', ')}`);
  lines.push(`age limit: ${formatAge(h.maxAgeSeconds)}; status file: ${h.statusFile}`);
  return lines.join('\n');
}

/**
 * `aetherlens-db status --backups`: how old the last verified backup is, from the scheduler's
 * status file. Exit 1 when it is older than the limit, so cron, systemd or a monitor can act.
 */
async function statusBackups(options: GlobalOptions & { statusFile?: string; maxAge?: string }): Promise<void> {
  const settings = settingsFrom(options);
  const health = await backupHealth({
    backupDir: settings.backupDir,
    ...(settings.statusFile ? { statusFile: settings.statusFile } : {}),
    ...(settings.maxBackupAgeSeconds !== undefined ? { maxAgeSeconds: settings.maxBackupAgeSeconds } : {}),
    catalog: () => lastVerifiedBackup(settings.backupDir),
  });
  output(options, health, formatHealth);
  if (!health.ok) process.exitCode = 1;
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
    const status = await withTarget(settings.target, 'status', (target) => migrationStatus({ target, migrationsDir: settings.migrationsDir }));
    output(options, status, formatStatus);
    if (status.problems.length > 0) process.exitCode = 1;
  });
