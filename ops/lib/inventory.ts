import type { Target } from './targets/types.js';
import { withClient } from './pg.js';
import { inspectTimescale } from './timescale.js';
import { loadMigrations } from './migrations/files.js';
import { expectationsOfAll } from './migrations/adopt.js';
import { LEDGER_TABLE, readLedger } from './migrations/ledger.js';

/** DESIGN section 3: both hypertables are chunked by 7 days. */
export const EXPECTED_CHUNK_INTERVAL_SECONDS = 7 * 24 * 3600;

export interface Tally {
  expected: string[];
  present: string[];
  missing: string[];
  ok: boolean;
}

export interface Inventory {
  serverVersion: string;
  timescaleVersion: string | null;
  edition: string | null;
  migrationHead: number | null;
  tables: Tally;
  hypertables: Tally & { chunkIntervals: Record<string, string>; compressionEnabled: Record<string, boolean> };
  indexes: Tally & { valid: number; invalid: string[]; totalOnTables: number };
  continuousAggregates: Tally;
  /** Plain views (metrics_si). */
  views: Tally;
  policies: Tally & { jobs: { id: number; proc: string; relation: string; schedule: string; config: unknown }[] };
  ok: boolean;
}

function tally(expected: string[], present: Iterable<string>): Tally {
  const have = new Set(present);
  const missing = expected.filter((e) => !have.has(e));
  return { expected, present: expected.filter((e) => have.has(e)), missing, ok: missing.length === 0 };
}

const interval = (seconds: number) => (seconds % 86400 === 0 ? `${seconds / 86400} days` : `${seconds} s`);

/**
 * What exists in the database against what the migration files promise (read from their parse
 * trees, so the two cannot drift apart): tables, hypertables and their chunk interval, indexes
 * and their validity, continuous aggregates, views, and policy jobs.
 */
export async function inventory(options: { target: Target; migrationsDir?: string }): Promise<Inventory> {
  const files = await loadMigrations(options.migrationsDir);
  const promised = await expectationsOfAll(files.map((f) => f.sql));
  return withClient(options.target.connection, async (client) => {
    const ts = await inspectTimescale(client, options.target);
    const ledger = await readLedger(client);
    const applied = ledger.filter((r) => r.success).map((r) => r.version);
    const tables = (await client.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'`)).rows.map((r) => r.t);

    const hyper = ts.installedVersion
      ? (await client.query<{ name: string; seconds: number; compressed: boolean }>(
          `SELECT d.hypertable_name AS name, extract(epoch FROM d.time_interval)::bigint::int AS seconds, h.compression_enabled AS compressed
             FROM timescaledb_information.dimensions d
             JOIN timescaledb_information.hypertables h USING (hypertable_schema, hypertable_name)
            WHERE d.hypertable_schema = 'public' AND d.dimension_number = 1`)).rows
      : [];
    // Indexes on continuous aggregates live on their materialization tables in TimescaleDB's
    // internal schema: those are found by name; everything else is checked in public.
    const indexRows = (await client.query<{ name: string; valid: boolean }>(
      `SELECT i.relname AS name, x.indisvalid AND x.indisready AS valid
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = i.relnamespace
        WHERE n.nspname = 'public' OR i.relname = ANY($1::text[])`, [promised.indexes])).rows;
    const views = (await client.query<{ v: string }>(`SELECT viewname AS v FROM pg_views WHERE schemaname = 'public'`)).rows.map((r) => r.v);
    const caggs = ts.installedVersion
      ? (await client.query<{ v: string }>(`SELECT view_name AS v FROM timescaledb_information.continuous_aggregates WHERE view_schema = 'public'`)).rows.map((r) => r.v)
      : [];
    const jobs = ts.installedVersion
      ? (await client.query<{ id: number; proc: string; relation: string; schedule: string; config: unknown }>(
          `SELECT job_id AS id, proc_name AS proc, hypertable_name AS relation, schedule_interval::text AS schedule, config
             FROM timescaledb_information.jobs WHERE hypertable_name IS NOT NULL ORDER BY job_id`)).rows
      : [];

    const hypertableNames = new Set(promised.hypertables);
    const expectedTables = [...promised.tables.filter((t) => !hypertableNames.has(t)), LEDGER_TABLE];
    const hyperTally = tally(promised.hypertables, hyper.filter((h) => h.seconds === EXPECTED_CHUNK_INTERVAL_SECONDS).map((h) => h.name));
    const validNames = indexRows.filter((r) => r.valid).map((r) => r.name);
    const invalid = indexRows.filter((r) => !r.valid).map((r) => r.name);
    const indexTally = tally(promised.indexes, validNames);
    const policyKeys = promised.policies.map(([proc, rel]) => `${proc}:${rel}`);
    const policyTally = tally(policyKeys, jobs.map((j) => `${j.proc}:${j.relation}`));
    const result: Inventory = {
      serverVersion: ts.serverVersion,
      timescaleVersion: ts.installedVersion ?? null,
      edition: ts.edition ?? null,
      migrationHead: applied.length ? Math.max(...applied) : null,
      tables: tally(expectedTables, tables),
      hypertables: {
        ...hyperTally,
        chunkIntervals: Object.fromEntries(hyper.map((h) => [h.name, interval(h.seconds)])),
        compressionEnabled: Object.fromEntries(hyper.map((h) => [h.name, h.compressed])),
      },
      indexes: { ...indexTally, valid: indexTally.present.length, invalid, totalOnTables: indexRows.length, ok: indexTally.ok && invalid.length === 0 },
      continuousAggregates: tally(promised.continuousAggregates, caggs),
      views: tally(promised.views, views),
      policies: { ...policyTally, jobs },
      ok: false,
    };
    result.ok = [result.tables, result.hypertables, result.indexes, result.continuousAggregates, result.views, result.policies].every((t) => t.ok);
    return result;
  });
}
