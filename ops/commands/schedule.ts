import { Command } from 'commander';
import {
  backupHealth,
  formatAge,
  jobTargetEnv,
  jsonLogger,
  lastVerifiedBackup,
  parseDuration,
  resolveRetention,
  resolveScheduleSettings,
  startScheduler,
  targetLabel,
  targetSecrets,
  OpsError,
  type BackupHealth,
  type ScheduleFlags,
} from '../lib/index.js';
import { output, settingsFrom, withTargetOptions, type GlobalOptions } from './context.js';

type ScheduleOptions = GlobalOptions & Omit<ScheduleFlags, 'drill' | 'rotate' | 'catchUp'> & { drill: boolean; rotate: boolean; catchUp: boolean };

export const scheduleCommand = withTargetOptions(new Command('schedule'))
  .description('run the job scripts (backup, drill, policies and your own) on their schedules, each in a child process; logs JSON lines')
  .option('--dir <dir>', 'backup directory (or AETHERLENS_BACKUP_DIR)')
  .option('--config <file>', 'JSON file with the schedule settings (or AETHERLENS_SCHEDULE_CONFIG)')
  .option('--cron <expression>', 'when the backup job runs, node-cron syntax (or AETHERLENS_BACKUP_CRON; default "0 2 * * *"; "off" to disable)')
  .option('--timezone <zone>', 'IANA time zone of the cron fields (or AETHERLENS_TIMEZONE; default: the host zone)')
  .option('--jobs-cron <expression>', 'embedded target: when the policies job runs (default "*/15 * * * *"; "off" to disable)')
  .option('--jobs-dir <dir>', 'your job scripts, searched after the shipped ones; same name replaces (or AETHERLENS_JOBS_DIR)')
  .option('--no-drill', 'the backup job does not restore-drill each new backup (rotation then follows the backup)')
  .option('--no-rotate', 'the backup job does not rotate after a successful drill')
  .option('--no-catch-up', 'do not back up at start-up when the last verified backup is older than one interval')
  .option('--status-file <file>', 'where to write the status (or AETHERLENS_STATUS_FILE; default <dir>/scheduler-status.json)')
  .option('--prom-file <file>', 'a .prom file for node_exporter\'s textfile collector (or AETHERLENS_PROM_FILE)')
  .option('--ping-url-file <file>', 'file holding the healthchecks-style URL pinged around the backup job (or AETHERLENS_PING_URL / _FILE)')
  .option('--webhook-url-file <file>', 'file holding the URL that gets a JSON POST when a job fails (or AETHERLENS_WEBHOOK_URL / _FILE)')
  .option('--ping-url <url>', 'the ping URL itself: visible to every local user in ps, prefer the file or the variable')
  .option('--webhook-url <url>', 'the webhook URL itself: visible to every local user in ps, prefer the file or the variable')
  .option('--max-age <duration>', 'the last verified backup is stale beyond this (or AETHERLENS_MAX_BACKUP_AGE; default 1.5 × the interval)')
  .option('--grace <duration>', 'on SIGTERM/SIGINT, how long running jobs may finish before they are stopped (default 60s)')
  .action(async (options: ScheduleOptions, command: Command) => {
    const settings = settingsFrom(options);
    // --no-X defaults to true in commander: only a flag actually given may override the config file.
    const given = (name: string) => command.getOptionValueSource(name) === 'cli';
    const flags: ScheduleFlags = {
      ...(options.config ? { config: options.config } : {}),
      ...(options.cron ? { cron: options.cron } : {}),
      ...(options.timezone ? { timezone: options.timezone } : {}),
      ...(options.jobsCron ? { jobsCron: options.jobsCron } : {}),
      ...(options.jobsDir ? { jobsDir: options.jobsDir } : {}),
      ...(given('drill') ? { drill: options.drill } : {}),
      ...(given('rotate') ? { rotate: options.rotate } : {}),
      ...(given('catchUp') ? { catchUp: options.catchUp } : {}),
      ...(options.statusFile ? { statusFile: options.statusFile } : {}),
      ...(options.promFile ? { promFile: options.promFile } : {}),
      ...(options.pingUrl ? { pingUrl: options.pingUrl } : {}),
      ...(options.webhookUrl ? { webhookUrl: options.webhookUrl } : {}),
      ...(options.pingUrlFile ? { pingUrlFile: options.pingUrlFile } : {}),
      ...(options.webhookUrlFile ? { webhookUrlFile: options.webhookUrlFile } : {}),
      ...(options.maxAge ? { maxAge: options.maxAge } : {}),
      ...(options.grace ? { grace: options.grace } : {}),
    };
    const schedule = resolveScheduleSettings(flags, { backupDir: settings.backupDir, targetKind: settings.target.kind });
    // The backup job rotates with these: checked now, not at the first rotation in the night.
    resolveRetention({});
    const scheduler = await startScheduler({
      settings: schedule,
      targetLabel: targetLabel(settings.target),
      backupDir: settings.backupDir,
      logger: jsonLogger(),
      secrets: targetSecrets(settings.target),
      jobEnv: jobTargetEnv(settings),
    });
    const onSignal = (signal: NodeJS.Signals) => void scheduler.stop(signal);
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    await scheduler.stopped;
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    // A stop on a signal is the normal way out; whatever still holds the loop must not keep us.
    process.exitCode = 0;
    setTimeout(() => process.exit(0), 3000).unref();
  });

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
export async function statusBackups(options: GlobalOptions & { statusFile?: string; maxAge?: string }): Promise<void> {
  const settings = settingsFrom(options);
  const maxAgeText = options.maxAge ?? process.env.AETHERLENS_MAX_BACKUP_AGE;
  const maxAgeSeconds = maxAgeText === undefined ? undefined : parseDuration(maxAgeText);
  if (maxAgeText !== undefined && (maxAgeSeconds === undefined || maxAgeSeconds <= 0)) {
    throw new OpsError('CONFIG', `${options.maxAge !== undefined ? '--max-age' : 'AETHERLENS_MAX_BACKUP_AGE'} must be a duration such as 90s, 45m, 36h or 2d`);
  }
  const statusFile = options.statusFile ?? process.env.AETHERLENS_STATUS_FILE;
  const health = await backupHealth({
    backupDir: settings.backupDir,
    ...(statusFile ? { statusFile } : {}),
    ...(maxAgeSeconds !== undefined ? { maxAgeSeconds } : {}),
    catalog: () => lastVerifiedBackup(settings.backupDir),
  });
  output(options, health, formatHealth);
  if (!health.ok) process.exitCode = 1;
}
