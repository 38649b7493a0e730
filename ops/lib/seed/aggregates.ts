/**
 * Materializes the continuous aggregates over a freshly seeded window.
 *
 * Why the seeder must do it: the refresh policies (migration 004) only look back 3 days (hourly)
 * and 7 days (daily). Seeded history is a backfill: once a policy has run, the aggregate's
 * watermark sits near now, real-time aggregation covers only what lies above it, and older
 * seeded data that was never materialized would be missing from metrics_hourly and friends.
 * Refreshing the seeded window explicitly is always allowed by the retention rule of 006: the
 * seeder has just written the raw rows it aggregates. Community edition only; on the Apache
 * edition there are no aggregates and this does nothing.
 */
import type pg from 'pg';
import { refreshWaitingOutOthers } from '../aggregateRefresh.js';
import type { Logger } from '../logger.js';

/** Hourly before daily: the daily aggregates are built on the hourly ones. */
const ORDER = ['metrics_hourly', 'metrics_daily', 'cost_hourly', 'cost_daily'] as const;
const DAY_MS = 86_400_000;

/**
 * CALL refresh_continuous_aggregate for each existing aggregate over [start, end), widened to
 * whole UTC days so every touched bucket is complete. Must run outside a transaction block.
 * Returns the aggregates refreshed.
 */
export async function refreshAggregates(client: pg.Client, start: Date, end: Date, logger: Logger): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT view_name AS name FROM timescaledb_information.continuous_aggregates WHERE view_schema = 'public' AND view_name = ANY($1::text[])`,
    [ORDER],
  );
  const present = new Set(rows.map((r) => r.name));
  const from = new Date(Math.floor(start.getTime() / DAY_MS) * DAY_MS);
  const to = new Date(Math.ceil(end.getTime() / DAY_MS) * DAY_MS);
  const refreshed: string[] = [];
  for (const name of ORDER) {
    if (!present.has(name)) continue;
    const started = Date.now();
    await refreshWaitingOutOthers(client, `CALL refresh_continuous_aggregate($1::regclass, $2::timestamptz, $3::timestamptz)`, [name, from, to]);
    logger.progress(`seed: refreshed ${name} from ${from.toISOString()} to ${to.toISOString()} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    refreshed.push(name);
  }
  return refreshed;
}
