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
 * Stops the database's job scheduler (as timescaledb_pre_restore() does, without restoring mode)
 * and waits until no job worker is left in it. The background workers run a policy as soon as it
 * is created and again on its schedule: a test that runs policies itself (run_job), or loads
 * readings older than the retention window, stops them first. startJobScheduler() hands the jobs
 * back. (alter_job cannot pause them all: TimescaleDB 2.22 refuses any alter_job on the refresh
 * policy of a hierarchical continuous aggregate, fixed in 2.23.1.)
 */
export async function stopJobScheduler(client: pg.Client): Promise<void> {
  await client.query('SELECT _timescaledb_functions.stop_background_workers()');
  // A job worker is named after its job ("Retention Policy [1006]"); two empty looks in a row.
  const running = async () => (await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_type ~ '\\[\\d+\\]$'`)).rows[0]!.n;
  const deadline = Date.now() + 30_000;
  for (let quiet = 0; quiet < 2; quiet = (await running()) === 0 ? quiet + 1 : 0) {
    if (Date.now() > deadline) throw new Error('job workers still running 30 s after the scheduler was stopped');
    await sleep(100);
  }
}

/** Starts the database's job scheduler again after stopJobScheduler(). */
export async function startJobScheduler(client: pg.Client): Promise<void> {
  await client.query('SELECT _timescaledb_functions.start_background_workers()');
}
