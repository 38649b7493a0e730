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
    await client.query(`SELECT alter_job(${Number(row.id)}, scheduled => ${want ? 'true' : 'false'})`);
    changed.push(`job ${row.id} (${expected[row.id]!.proc}): ${want ? 'scheduled' : 'unscheduled'}, as in the backup`);
  }
  return changed;
}
