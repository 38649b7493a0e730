import { Command } from 'commander';
import { jobEnvironmentFrom, jsonLogger, startScheduler, targetLabel, type ScheduleFlags } from '../lib/index.js';
import { settingsFrom, withTargetOptions, type GlobalOptions } from './context.js';

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
    // One resolution for the target, the schedule and the retention the backup job rotates with:
    // every problem is reported now, not at the first rotation in the night.
    const settings = settingsFrom(options, { schedule: flags });
    const scheduler = await startScheduler({
      settings: settings.schedule!,
      targetLabel: targetLabel(settings.target),
      backupDir: settings.backupDir,
      logger: jsonLogger(),
      secrets: settings.secrets,
      jobEnvironment: jobEnvironmentFrom(settings),
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
