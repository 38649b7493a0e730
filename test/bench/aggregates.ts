/**
 * The continuous aggregates of migration 004 on a freshly seeded server, made what they would be
 * in production before anything is timed: the seeded window materialized with the seeder's own
 * refresh (seeded history is a backfill the policies' 3- and 7-day windows never reach: see
 * ops/lib/seed/aggregates.ts), then every refresh policy run once with CALL run_job, as the
 * scheduler would. Community edition only.
 */
import { runDueJobs, type ConnectionInfo, type Logger } from '../../ops/lib/index.js';
import { quoteIdent, withClient } from '../../ops/lib/pg.js';
import { refreshAggregates } from '../../ops/lib/seed/aggregates.js';

export interface AggregatesReady {
  /** Seconds of the window's refresh (every aggregate, hourly before daily). */
  windowSeconds: number;
  /** Seconds of the refresh policies' one run each. */
  policySeconds: number;
  policies: number;
  /** Rows each aggregate answers with afterwards, by name. */
  rows: Record<string, number>;
}

/** Materializes [start, end) and runs the refresh policies; throws when a policy fails. */
export async function materializeAggregates(connection: ConnectionInfo, start: Date, end: Date, logger: Logger, label: string): Promise<AggregatesReady> {
  logger.info(`${label}: refreshing the continuous aggregates over the seeded window`);
  const windowStarted = performance.now();
  const names = await withClient(connection, (client) => refreshAggregates(client, start, end, logger));
  const windowSeconds = (performance.now() - windowStarted) / 1000;
  if (names.length === 0) throw new Error('no continuous aggregate to refresh: is migration 004 applied?');

  const jobs = await withClient(connection, (client) =>
    client.query<{ id: number }>(`SELECT job_id AS id FROM timescaledb_information.jobs WHERE proc_name = 'policy_refresh_continuous_aggregate' ORDER BY job_id`),
  );
  logger.info(`${label}: ${jobs.rows.length} refresh policies, one CALL run_job each`);
  const policyStarted = performance.now();
  for (const { id } of jobs.rows) {
    const [result] = await runDueJobs(connection, { jobId: id });
    if (!result?.ok) throw new Error(`refresh policy job ${id} failed: ${result?.error ?? 'did not run'}`);
  }
  const policySeconds = (performance.now() - policyStarted) / 1000;

  const rows = await withClient(connection, async (client) => {
    const out: Record<string, number> = {};
    for (const name of names) {
      const { rows: counted } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quoteIdent(name)}`);
      out[name] = Number(counted[0]!.n);
    }
    return out;
  });
  return { windowSeconds, policySeconds, policies: jobs.rows.length, rows };
}
