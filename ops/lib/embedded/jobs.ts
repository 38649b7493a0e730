import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../atomicFile.js';
import { join } from 'node:path';
import type { ConnectionInfo } from '../connection.js';
import { OpsError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { withClient } from '../pg.js';

/** When each job last ran here: the embedded engine has no scheduler to keep job_stats. */
interface JobLedger {
  [jobId: string]: { lastRunAt: string; ok: boolean; error?: string };
}

export interface JobRun {
  id: number;
  proc: string;
  relation: string | null;
  ok: boolean;
  ms: number;
  error?: string;
}

export interface RunJobsOptions {
  /** Run every policy job, due or not. */
  all?: boolean;
  /** Run exactly this job. */
  jobId?: number;
  /** Where to remember last runs (the embedded data directory); without it job_stats decides. */
  stateDir?: string;
  now?: Date;
  logger?: Logger;
}

const stateFile = (dir: string) => join(dir, 'jobs-state.json');

async function readState(dir: string | undefined): Promise<JobLedger> {
  if (!dir) return {};
  try {
    return JSON.parse(await readFile(stateFile(dir), 'utf8')) as JobLedger;
  } catch {
    return {};
  }
}

async function writeState(dir: string | undefined, state: JobLedger): Promise<void> {
  if (!dir) return;
  await writeFileAtomic(stateFile(dir), `${JSON.stringify(state, null, 2)}\n`);
}

/**
 * Runs TimescaleDB policy jobs on demand with CALL run_job: the due ones (schedule interval
 * elapsed since the last run), all of them, or one by id. Without background workers (the
 * embedded engine) this is how compression, retention and refreshes happen. Refreshes run
 * first, so aggregates see raw data before retention drops it.
 */
export async function runDueJobs(connection: ConnectionInfo, options: RunJobsOptions = {}): Promise<JobRun[]> {
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? new Date();
  const state = await readState(options.stateDir);
  return withClient(connection, async (client) => {
    const { rows: jobs } = await client.query<{ id: number; proc: string; relation: string | null; seconds: number; next_start: Date | null; scheduled: boolean }>(
      `SELECT j.job_id AS id, j.proc_name AS proc, j.hypertable_name AS relation, extract(epoch FROM j.schedule_interval)::float8 AS seconds,
              s.next_start, j.scheduled
         FROM timescaledb_information.jobs j LEFT JOIN timescaledb_information.job_stats s USING (job_id)
        WHERE j.job_id >= 1000
        ORDER BY CASE j.proc_name WHEN 'policy_refresh_continuous_aggregate' THEN 0 WHEN 'policy_compression' THEN 1 ELSE 2 END, j.job_id`,
    );
    if (options.jobId !== undefined && !jobs.some((j) => j.id === options.jobId)) {
      throw new OpsError('NOT_FOUND', `there is no policy job ${options.jobId}: run \`aetherlens-db inventory\` to list the jobs`);
    }
    const due = jobs.filter((job) => {
      if (options.jobId !== undefined) return job.id === options.jobId;
      if (options.all) return true;
      if (!job.scheduled) return false;
      const last = state[job.id]?.lastRunAt;
      if (last) return new Date(last).getTime() + job.seconds * 1000 <= now.getTime();
      return job.next_start === null || job.next_start <= now;
    });
    const results: JobRun[] = [];
    for (const job of due) {
      const started = performance.now();
      try {
        await client.query(`CALL run_job(${Number(job.id)})`);
        results.push({ id: job.id, proc: job.proc, relation: job.relation, ok: true, ms: Math.round(performance.now() - started) });
        state[job.id] = { lastRunAt: now.toISOString(), ok: true };
        logger.info(`ran job ${job.id} (${job.proc} on ${job.relation}) in ${results.at(-1)!.ms} ms`);
      } catch (error) {
        const message = (error as Error).message;
        results.push({ id: job.id, proc: job.proc, relation: job.relation, ok: false, ms: Math.round(performance.now() - started), error: message });
        state[job.id] = { lastRunAt: now.toISOString(), ok: false, error: message };
        logger.warn(`job ${job.id} (${job.proc} on ${job.relation}) failed: ${message}`);
      }
    }
    await writeState(options.stateDir, state);
    return results;
  });
}
