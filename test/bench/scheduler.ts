/**
 * The server's own job scheduler during the native phase. It runs every new policy seconds after
 * the migration, while the dataset is still loading: a compression run then compresses the oldest
 * chunk half-full, the rest of it lands beside it uncompressed, and the compression figure
 * measures whatever that race left (a run here measured 3.2 MB "before" where the chunks held
 * 19 MB). So the bench pauses the compression policies once they exist and runs them itself (CALL
 * run_job) where their effect is measured. The refresh and retention policies stay scheduled: a
 * refresh of the last days during the load is redone by the bench's refresh of the whole window,
 * retention finds nothing older than 90 days, and TimescaleDB 2.22.1 refuses alter_job on the
 * hierarchical aggregates' refresh policies anyway ("multiple refresh policies are not supported
 * for hierarchical continuous aggregates"). At the end the compression policies are scheduled
 * again, due at once, and the bench waits for the scheduler to run them: the server is handed on
 * as production runs it, and the row says whether its background workers ran the policies.
 * Foreground CALL run_job leaves no trace in job_history: what is counted there is the
 * scheduler's work alone.
 */
import type pg from 'pg';
import type { BenchRow } from './context.js';

/** Pauses the scheduled compression policies; returns their ids. */
export async function pauseCompression(client: pg.Client): Promise<number[]> {
  const { rows } = await client.query<{ id: number }>(`SELECT job_id AS id FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression' AND scheduled ORDER BY 1`);
  for (const { id } of rows) await client.query('SELECT alter_job($1, scheduled => false)', [id]);
  return rows.map((r) => r.id);
}

export interface SchedulerRuns {
  /** The paused jobs, and how many of them the scheduler ran within the wait. */
  resumed: number;
  resumedRan: number;
  waitedSeconds: number;
  /** Every finished background run of a policy job (id ≥ 1000) since the phase began. */
  runs: number;
  failed: number;
  /** Distinct error messages of the failed runs, most frequent first. */
  errors: string[];
}

/** Policy jobs are numbered from 1000; below are TimescaleDB's own (telemetry, history retention). */
const FIRST_POLICY_JOB = 1000;

/**
 * Schedules the paused jobs again, due now, waits until the scheduler has finished a run of each
 * (or `timeoutMs` passed), then reads every policy run since `since` from job_history.
 */
export async function resumeAndCount(client: pg.Client, paused: readonly number[], since: Date, timeoutMs: number): Promise<SchedulerRuns> {
  const { rows: clock } = await client.query<{ now: Date }>('SELECT now() AS now');
  const resumedAt = clock[0]!.now;
  for (const id of paused) await client.query('SELECT alter_job($1, scheduled => true, next_start => now())', [id]);
  const started = performance.now();
  const finished = async () => {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(DISTINCT job_id)::int AS n FROM timescaledb_information.job_history WHERE job_id = ANY($1::int[]) AND start_time >= $2 AND finish_time IS NOT NULL`,
      [paused, resumedAt],
    );
    return rows[0]!.n;
  };
  let resumedRan = await finished();
  while (resumedRan < paused.length && performance.now() - started < timeoutMs) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    resumedRan = await finished();
  }
  const waitedSeconds = (performance.now() - started) / 1000;
  const { rows } = await client.query<{ succeeded: boolean; err_message: string | null }>(
    `SELECT succeeded, err_message FROM timescaledb_information.job_history WHERE job_id >= $1 AND start_time >= $2 AND finish_time IS NOT NULL`,
    [FIRST_POLICY_JOB, since],
  );
  const errors = new Map<string, number>();
  for (const r of rows) {
    const message = r.err_message ?? 'no message';
    if (!r.succeeded) errors.set(message, (errors.get(message) ?? 0) + 1);
  }
  return {
    resumed: paused.length,
    resumedRan,
    waitedSeconds,
    runs: rows.length,
    failed: rows.filter((r) => !r.succeeded).length,
    errors: [...errors.entries()].sort((a, b) => b[1] - a[1]).map(([message]) => message),
  };
}

/** An information row; `where` names the server. */
export function schedulerRow(s: SchedulerRuns, where: string): BenchRow {
  return {
    figure: "policies: background runs by the server's own scheduler",
    ours: `${s.runs - s.failed} of ${s.runs} succeeded`,
    baseline: '—',
    ratio: '—',
    verdict: 'info',
    note: `${where}; every run of a policy job the scheduler finished during the phase (timescaledb_information.job_history), including the ${s.resumed} compression policies, paused while the bench ran them itself, scheduled again due at once at the end: ${s.resumedRan} of them ran within ${s.waitedSeconds.toFixed(0)} s${s.errors.length ? `; errors: ${s.errors.map((e) => `"${e}"`).join(', ')}` : ''}`,
  };
}
