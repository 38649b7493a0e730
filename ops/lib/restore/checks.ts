import { refreshWaitingOutOthers } from '../aggregateRefresh.js';
import { quoteIdent, quoteLiteral } from '../pg.js';
import { compareFingerprints } from '../backup/compare.js';
import { readDatabaseFacts } from '../backup/facts.js';
import { takeFingerprint, type Fingerprint } from '../backup/fingerprint.js';
import type { Manifest } from '../backup/manifest.js';
import type { SqlClient } from '../targets/sqlClient.js';

/** One thing a drill or restore checked, and what it found. */
export interface CheckResult {
  name: 'checksum' | 'restore' | 'fingerprint' | 'migrations' | 'jobs' | 'continuous aggregates' | 'restoring mode' | 'refresh' | 'extension update';
  ok: boolean;
  /** One line: what was found, or what differs. */
  detail: string;
  /** Every difference, one line each (the fingerprint's can be many). */
  differences: string[];
}

const pass = (name: CheckResult['name'], detail: string): CheckResult => ({ name, ok: true, detail, differences: [] });
const fail = (name: CheckResult['name'], differences: string[]): CheckResult => ({
  name, ok: false, detail: `${differences[0]}${differences.length > 1 ? ` (and ${differences.length - 1} more)` : ''}`, differences,
});

/** "schema.name" or "name" (public) as a quoted, qualified relation. */
export function relationOf(displayName: string, defaultSchema = 'public'): string {
  const [schema, name] = displayName.includes('.') ? (displayName.split(/\.(.*)/s) as [string, string]) : [defaultSchema, displayName];
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/** The restored data against the backup's fingerprint: which table differs, and how. */
export async function checkFingerprint(client: SqlClient, manifest: Manifest): Promise<CheckResult> {
  const differences = compareFingerprints(manifest.fingerprint, await takeFingerprint(client));
  if (differences.length > 0) return fail('fingerprint', differences);
  const fp = manifest.fingerprint;
  const chunks = Object.values(fp.hypertables).reduce((n, h) => n + Object.keys(h.chunks).length, 0);
  return pass('fingerprint', `${Object.keys(fp.tables).length} tables and ${Object.keys(fp.hypertables).length} hypertables (${chunks} chunks) match the backup`);
}

/** The migration ledger's head equals the one the backup recorded. */
export async function checkMigrations(client: SqlClient, manifest: Manifest): Promise<CheckResult> {
  const head = (await readDatabaseFacts(client)).migrationHead;
  if (head !== manifest.migrationHead) return fail('migrations', [`migration head ${manifest.migrationHead ?? 'none'} → ${head ?? 'none'}`]);
  return pass('migrations', `migration head ${head ?? 'none'}, as in the backup`);
}

/** Every job of the backup is there, and scheduled if it was scheduled (restores have lost both). */
export async function checkJobs(client: SqlClient, manifest: Manifest): Promise<CheckResult> {
  const expected = manifest.fingerprint.jobs;
  if (Object.keys(expected).length === 0) return pass('jobs', 'the backup has no jobs');
  const { rows } = await client.query<{ id: string; scheduled: boolean | string }>(`SELECT job_id::text AS id, scheduled FROM timescaledb_information.jobs`);
  const found = new Map(rows.map((r) => [r.id, r.scheduled === true || r.scheduled === 't']));
  const problems: string[] = [];
  for (const [id, job] of Object.entries(expected)) {
    const what = `job ${id} (${job.proc}${job.relation ? ` on ${job.relation}` : ''})`;
    if (!found.has(id)) problems.push(`${what}: missing`);
    else if (job.scheduled && !found.get(id)) problems.push(`${what}: not scheduled`);
  }
  if (problems.length > 0) return fail('jobs', problems);
  const n = Object.keys(expected).length;
  return pass('jobs', `${n} job${n === 1 ? '' : 's'} present${Object.values(expected).some((j) => j.scheduled) ? ' and scheduled' : ''}`);
}

/** Every continuous aggregate of the backup exists in the copy. */
export async function checkAggregatesExist(client: SqlClient, manifest: Manifest): Promise<CheckResult> {
  const expected = Object.keys(manifest.fingerprint.continuousAggregates);
  if (expected.length === 0) return pass('continuous aggregates', 'the backup has none');
  const { rows } = await client.query<{ name: string }>(
    `SELECT CASE WHEN view_schema = 'public' THEN view_name::text ELSE format('%s.%s', view_schema, view_name) END AS name FROM timescaledb_information.continuous_aggregates`);
  const present = new Set(rows.map((r) => r.name));
  const missing = expected.filter((name) => !present.has(name));
  if (missing.length > 0) return fail('continuous aggregates', missing.map((name) => `continuous aggregate ${name}: missing`));
  return pass('continuous aggregates', `${expected.length} present`);
}

/**
 * Refreshes every continuous aggregate. 'full' refreshes everything (a drill: the copy is thrown
 * away); 'probe' refreshes an empty window a century back, which runs the whole refresh machinery
 * (bucket functions, invalidation threshold, materialization table) without changing any row, so
 * the restored data still equals the backup when it goes live.
 */
export async function checkRefresh(client: SqlClient, manifest: Manifest, mode: 'full' | 'probe'): Promise<CheckResult> {
  const names = Object.keys(manifest.fingerprint.continuousAggregates);
  if (names.length === 0) return pass('refresh', 'no continuous aggregates to refresh');
  const { rows } = await client.query<{ name: string; type: string }>(
    `SELECT CASE WHEN ca.view_schema = 'public' THEN ca.view_name::text ELSE format('%s.%s', ca.view_schema, ca.view_name) END AS name, d.column_type::text AS type
       FROM timescaledb_information.continuous_aggregates ca
       JOIN timescaledb_information.dimensions d ON d.hypertable_schema = ca.materialization_hypertable_schema
        AND d.hypertable_name = ca.materialization_hypertable_name AND d.dimension_number = 1`);
  const types = new Map(rows.map((r) => [r.name, r.type]));
  const problems: string[] = [];
  const started = performance.now();
  for (const name of names) {
    const type = types.get(name) ?? 'timestamp with time zone';
    // A probe needs a time-typed window; integer-time aggregates are only refreshed in full drills.
    if (mode === 'probe' && !/^(timestamp|date)/.test(type)) continue;
    const window = mode === 'full' ? 'NULL, NULL' : `'1900-01-01'::${type}, '1901-01-01'::${type}`;
    try {
      await refreshWaitingOutOthers(client, `CALL refresh_continuous_aggregate(${quoteLiteral(relationOf(name))}, ${window})`);
    } catch (error) {
      problems.push(`continuous aggregate ${name}: refresh failed: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) return fail('refresh', problems);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  return pass('refresh', mode === 'full' ? `${names.length} refreshed completely in ${seconds} s` : `${names.length} refresh without error`);
}

/**
 * What differs between a database before and after ALTER EXTENSION ... UPDATE, beyond what an
 * update is meant to change: the extension's version, and TimescaleDB's own jobs (ids below 1000),
 * which get the new version's schedules and configs from its update scripts (2.22.1 → 2.28.3: job
 * history retention every 6 hours instead of monthly). Those jobs must still exist and stay
 * scheduled or not.
 */
export function compareAcrossUpdate(before: Fingerprint, after: Fingerprint): string[] {
  const jobs = Object.fromEntries(Object.entries(after.jobs).map(([id, job]) => {
    const was = before.jobs[id];
    return [id, was && Number(id) < 1000 && job.relation === null ? { ...job, schedule: was.schedule, config: was.config } : job];
  }));
  return compareFingerprints(before, { ...after, jobs, extensions: before.extensions });
}

/** After ALTER EXTENSION ... UPDATE: the data equals what the copy held just before it. */
export async function checkUnchangedByUpdate(client: SqlClient, before: Fingerprint, to: string): Promise<CheckResult> {
  const differences = compareAcrossUpdate(before, await takeFingerprint(client));
  if (differences.length > 0) return fail('fingerprint', differences.map((d) => `after the update to ${to}: ${d}`));
  return pass('fingerprint', `after the update to ${to}: every table and chunk as before it`);
}

export function restoringCheck(off: boolean): CheckResult {
  return off ? pass('restoring mode', 'timescaledb.restoring is off') : fail('restoring mode', ['timescaledb.restoring is still on: run SELECT timescaledb_post_restore() in the database']);
}
