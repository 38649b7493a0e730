import type { Manifest } from '../backup/manifest.js';
import type { SqlClient } from '../targets/sqlClient.js';

/**
 * Gives the restored copy the source's job states. The extension's own jobs (telemetry, job-history
 * retention: ids below 1000) are not in a dump: `CREATE EXTENSION` makes them afresh, scheduled.
 * The timescale/timescaledb image unschedules telemetry when TIMESCALEDB_TELEMETRY=off, and a
 * restore must keep that promise rather than switch telemetry back on. Returns one line per job
 * it changed.
 */
export async function carryJobStates(client: SqlClient, manifest: Manifest): Promise<string[]> {
  const expected = manifest.fingerprint.jobs;
  if (Object.keys(expected).length === 0) return [];
  const { rows } = await client.query<{ id: string; scheduled: boolean | string }>(`SELECT job_id::text AS id, scheduled FROM timescaledb_information.jobs`);
  const changed: string[] = [];
  for (const row of rows) {
    const want = expected[row.id]?.scheduled;
    const now = row.scheduled === true || row.scheduled === 't';
    if (want === undefined || want === now) continue;
    // The catalog row, as pg_restore writes the other jobs' rows: alter_job() refuses any change to
    // a refresh policy of a hierarchical continuous aggregate (TimescaleDB 2.22), state included.
    await client.query(`UPDATE _timescaledb_config.bgw_job SET scheduled = ${want ? 'true' : 'false'} WHERE id = ${Number(row.id)}`);
    changed.push(`job ${row.id} (${expected[row.id]!.proc}): ${want ? 'scheduled' : 'unscheduled'}, as in the backup`);
  }
  return changed;
}
