import { Command } from 'commander';
import { findJob, isNoise, jobEnvironmentFrom, listJobs, OpsError, recordRun, redact, runJob, parseDuration } from '../lib/index.js';
import { output, settingsFrom, withTargetOptions, type GlobalOptions } from './context.js';

type JobOptions = GlobalOptions & { jobsDir?: string; timeout?: string };

const run = withTargetOptions(new Command('run'))
  .description('run one job script now, as the scheduler would: a child process, its output here, exit 1 if it fails')
  .argument('<name>', 'the job (aetherlens-db job list shows them)')
  .option('--dir <dir>', 'backup directory (or AETHERLENS_BACKUP_DIR)')
  .option('--jobs-dir <dir>', 'your job scripts, searched after the shipped ones (or AETHERLENS_JOBS_DIR)')
  .option('--timeout <duration>', 'stop the job (SIGTERM, then SIGKILL 30 s later) after this long', '6h')
  .action(async (name: string, options: JobOptions) => {
    const settings = settingsFrom(options);
    const timeoutSeconds = parseDuration(options.timeout ?? '6h');
    if (timeoutSeconds === undefined || timeoutSeconds <= 0) throw new OpsError('USAGE', '--timeout must be a duration such as 90s, 45m or 2h');
    const job = await findJob(name, settings.jobsDir);
    const clean = (text: string) => redact(text, settings.secrets);
    // Ctrl-C or a service stop: the job's whole process group gets SIGTERM and may clean up.
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const startedAt = new Date().toISOString();
    try {
      const outcome = await runJob({
        job,
        timeoutMs: timeoutSeconds * 1000,
        killGraceMs: 30_000,
        stop: stop.signal,
        environment: jobEnvironmentFrom(settings),
        redact: clean,
        // A crashing script's stack frames are not for the operator: its cause is in the last line.
        onLine: (stream, line) => (stream === 'stdout' ? process.stdout.write(`${line}\n`) : isNoise(line) ? undefined : process.stderr.write(`${line}\n`)),
      });
      const record = recordRun({ id: 'manual', job: name, trigger: 'schedule', startedAt, finishedAt: new Date().toISOString(), outcome, timeoutSeconds, killGraceSeconds: 30, redact: clean });
      if (record.verdict !== 'ok') throw new OpsError(record.verdict === 'aborted' ? 'ABORTED' : 'BACKUP', record.error ?? `the job ${name} failed`);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });

const list = new Command('list')
  .description('the job scripts: shipped ones and yours (AETHERLENS_JOBS_DIR), yours replacing shipped ones of the same name')
  .option('--jobs-dir <dir>', 'your job scripts (or AETHERLENS_JOBS_DIR)')
  .option('--json', 'print the list as JSON')
  .action(async (options: JobOptions) => {
    const jobs = await listJobs(settingsFrom(options).jobsDir);
    output(options, jobs, (l) => l.map((j) => `${j.name.padEnd(16)} ${j.origin.padEnd(8)} ${j.file}`).join('\n'));
  });

export const jobCommand = new Command('job').description('the job scripts the scheduler runs (backup, drill, policies, yours)').addCommand(run).addCommand(list);
