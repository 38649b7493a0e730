import { Command, InvalidArgumentError } from 'commander';
import { OpsError, targetTraits, withTarget } from '../lib/index.js';
import { loggerFor, output, settingsFrom, withTargetOptions, type GlobalOptions } from './context.js';

const run = withTargetOptions(new Command('run'))
  .description('run due TimescaleDB policy jobs now (compression, retention, aggregate refresh)')
  .argument('[id]', 'run only this job', (value: string) => {
    const id = Number(value);
    if (!Number.isInteger(id) || id < 1) throw new InvalidArgumentError('the job id is a number; see `aetherlens-db inventory`');
    return id;
  })
  .option('--all', 'run every policy job, due or not')
  .option('--embedded-only', 'on any other target do nothing (a server runs its policies with its own background workers)')
  .option('--json', 'print the runs as JSON')
  .action(async (id: number | undefined, options: GlobalOptions & { all?: boolean; embeddedOnly?: boolean }) => {
    if (id !== undefined && options.all) throw new OpsError('USAGE', 'give a job id or --all, not both');
    const settings = settingsFrom(options);
    if (options.embeddedOnly && targetTraits(settings.target).runsPolicyJobsItself) {
      loggerFor(options).info('not the embedded target: its policy jobs are run by the server, nothing to do');
      return output(options, [], () => 'no job run: not the embedded target');
    }
    const runs = await withTarget(settings.target, 'jobs run', (target) =>
      target.runPolicyJobs({ ...(id !== undefined ? { jobId: id } : {}), ...(options.all ? { all: true } : {}), logger: loggerFor(options) }));
    output(options, runs, (r) => (r.length === 0 ? 'no job is due' : r.map((j) => `${j.ok ? 'ok    ' : 'FAILED'} job ${j.id} ${j.proc} on ${j.relation} (${j.ms} ms)${j.error ? `: ${j.error}` : ''}`).join('\n')));
    if (runs.some((j) => !j.ok)) process.exitCode = 1;
  });

export const jobsCommand = new Command('jobs').description('TimescaleDB policy jobs').addCommand(run);
