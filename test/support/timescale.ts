import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { ConnectionInfo } from '../../ops/lib/connection.js';
import { withClient } from '../../ops/lib/pg.js';

/**
 * Settings for startNativeCluster() that make the community build behave as the Apache-2 edition:
 * TimescaleDB refuses every community feature under this license, exactly as the Apache-only
 * packages do, so the same installation tests both editions.
 */
export const APACHE_EDITION: Record<string, string> = { 'timescaledb.license': "'apache'" };

export interface ServerTimescale {
  /** The extension version in that database, or the one CREATE EXTENSION would install. */
  version: string;
  /** timescaledb.license: 'timescale' (community) or 'apache'. */
  edition: string;
}

/**
 * What the server runs, read from the server itself, for tests that must not pin a version or an
 * edition. The license setting exists only once the versioned library is loaded, so it is read
 * after CREATE EXTENSION inside a transaction that is rolled back, on a session of its own.
 */
export async function serverTimescale(info: ConnectionInfo, database = info.database): Promise<ServerTimescale> {
  return withClient(info, async (c) => {
    await c.query('BEGIN');
    try {
      await c.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
      const { rows } = await c.query<ServerTimescale>(
        `SELECT extversion AS version, current_setting('timescaledb.license') AS edition FROM pg_extension WHERE extname = 'timescaledb'`);
      return rows[0]!;
    } finally {
      await c.query('ROLLBACK');
    }
  }, database);
}

/** A version as a regular expression that matches only itself. */
export const versionPattern = (version: string): string => version.replace(/\./g, '\\.');

/**
 * Unschedules the database's policy jobs (ids from 1000; below are the extension's own) and waits
 * until no job worker is left in it. The background workers run a policy as soon as it is created
 * and retry failed runs within minutes: a test that runs policies itself (run_job), or loads
 * readings older than the retention window, pauses them first. Returns the job ids.
 */
export async function pausePolicies(client: pg.Client): Promise<number[]> {
  const { rows } = await client.query<{ id: number }>(
    `SELECT job_id AS id FROM timescaledb_information.jobs WHERE job_id >= 1000 ORDER BY 1`);
  for (const { id } of rows) await client.query('SELECT alter_job($1, scheduled => false)', [id]);
  // A job worker is named after its job ("Retention Policy [1006]"); two empty looks in a row.
  const running = async () => (await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_type ~ '\\[\\d+\\]$'`)).rows[0]!.n;
  const deadline = Date.now() + 30_000;
  for (let quiet = 0; quiet < 2; quiet = (await running()) === 0 ? quiet + 1 : 0) {
    if (Date.now() > deadline) throw new Error('policy jobs still running 30 s after they were unscheduled');
    await sleep(100);
  }
  return rows.map((r) => r.id);
}
