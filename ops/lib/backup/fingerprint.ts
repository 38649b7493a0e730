import { quoteIdent } from '../pg.js';
import type { SqlClient } from '../targets/sqlClient.js';

/**
 * Bump when the fingerprint's shape or the way a value is computed changes. Format 1 summed
 * floats as floats, which depends on the order rows are added: compressing a chunk changed it
 * (compare.ts still reads format 1 manifests, within that rounding). Format 2 sums them exactly.
 */
export const FINGERPRINT_FORMAT = 2;

/** An ordinary table: exact row count and an order-independent hash of every row's text. */
export interface TablePrint {
  rows: number;
  hash: string;
}

/** One chunk of a hypertable: count, time bounds and exact column sums (DESIGN section 5). */
export interface ChunkPrint {
  rows: number;
  minTime: string | null;
  maxTime: string | null;
  /** Per column: exact numeric sum, count of true, or sum of hashtext() for other types. */
  sums: Record<string, string | null>;
}

export interface HypertablePrint {
  timeColumn: string;
  /** Keyed by chunk name (schema omitted when it is _timescaledb_internal). */
  chunks: Record<string, ChunkPrint>;
}

export interface ContinuousAggregatePrint {
  materializedOnly: boolean;
  /** Rows in its materialization hypertable. */
  materializedRows: number;
}

export interface JobPrint {
  proc: string;
  relation: string | null;
  schedule: string;
  scheduled: boolean;
  /** jsonb text: PostgreSQL orders its keys, so equal configs print equal. */
  config: string | null;
}

/**
 * What the data looked like, cheaply: exact hashes of the ordinary tables, and per-chunk counts,
 * time bounds and sums for hypertables (a hash of every row costs more than the dump itself).
 * Names are "schema.table", with "public." left out.
 */
export interface Fingerprint {
  /** FINGERPRINT_FORMAT when taken now; 1 in manifests of backups taken before format 2. */
  format: 1 | typeof FINGERPRINT_FORMAT;
  extensions: Record<string, string>;
  tables: Record<string, TablePrint>;
  hypertables: Record<string, HypertablePrint>;
  continuousAggregates: Record<string, ContinuousAggregatePrint>;
  /** Keyed by job id. */
  jobs: Record<string, JobPrint>;
  /** The newest timestamp in any hypertable (ISO 8601), for the data's age at backup time. */
  newestData: string | null;
}

/** Schemas that hold no user data of their own (catalogs, TimescaleDB internals and views). */
const SKIPPED_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'timescaledb_information', 'timescaledb_experimental', 'toolkit_experimental')
  AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname NOT LIKE '\\_timescaledb%'`;

/** Fixed output settings, so every value prints the same text on every server and client. */
const SESSION_SETTINGS = [
  `SET LOCAL TimeZone = 'UTC'`,
  `SET LOCAL DateStyle = 'ISO, YMD'`,
  `SET LOCAL IntervalStyle = 'postgres'`,
  `SET LOCAL extra_float_digits = 1`,
  `SET LOCAL bytea_output = 'hex'`,
];

const displayName = (schema: string, name: string) => (schema === 'public' || schema === '_timescaledb_internal' ? name : `${schema}.${name}`);
const qualified = (schema: string, name: string) => `${quoteIdent(schema)}.${quoteIdent(name)}`;

/**
 * The aggregate for a column of this type category; every one is exact, so the order rows are
 * read in (physical, compressed, plan-dependent) cannot change it. Floats are summed as numeric
 * from their shortest exact text (extra_float_digits = 1): a float sum changed when a chunk was
 * compressed, and float8::numeric keeps only 15 digits. Only cost_calculations.energy_kwh is a
 * float in our schema, so the slower numeric sum costs little (docs/bench.md).
 */
function columnSum(column: string, category: string, type: string): string {
  const c = quoteIdent(column);
  if (type === 'float4' || type === 'float8') return `sum(${c}::text::numeric)::text`;
  if (category === 'N') return `sum(${c})::text`;
  if (category === 'B') return `count(*) FILTER (WHERE ${c})::text`;
  return `sum(hashtext(${c}::text)::bigint)::text`;
}

async function readTables(client: SqlClient, hypertables: Set<string>): Promise<Record<string, TablePrint>> {
  const { rows } = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND ${SKIPPED_SCHEMAS}
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
      ORDER BY 1, 2`);
  const out: Record<string, TablePrint> = {};
  for (const t of rows) {
    if (hypertables.has(`${t.schema}.${t.name}`)) continue;
    const r = (await client.query<{ rows: string; hash: string }>(
      `SELECT count(*)::text AS rows, coalesce(sum(hashtextextended(t::text, 0)::numeric), 0)::text AS hash FROM ${qualified(t.schema, t.name)} AS t`)).rows[0]!;
    out[displayName(t.schema, t.name)] = { rows: Number(r.rows), hash: r.hash };
  }
  return out;
}

async function readHypertables(client: SqlClient): Promise<{ prints: Record<string, HypertablePrint>; names: Set<string>; newest: string | null }> {
  const { rows } = await client.query<{ schema: string; name: string; time_column: string; time_type: string }>(
    `SELECT d.hypertable_schema AS schema, d.hypertable_name AS name, d.column_name AS time_column, d.column_type::text AS time_type
       FROM timescaledb_information.dimensions d WHERE d.dimension_number = 1 ORDER BY 1, 2`);
  const prints: Record<string, HypertablePrint> = {};
  let newest: string | null = null;
  for (const h of rows) {
    const columns = (await client.query<{ name: string; category: string; type: string }>(
      `SELECT a.attname AS name, t.typcategory::text AS category, t.typname::text AS type
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> $2
        ORDER BY a.attnum`, [qualified(h.schema, h.name), h.time_column])).rows;
    const time = quoteIdent(h.time_column);
    const sums = columns.map((c, i) => `${columnSum(c.name, c.category, c.type)} AS s${i}`);
    // One scan grouped by chunk: tableoid names the chunk, compressed or not.
    const chunks = (await client.query<Record<string, string | null>>(
      `SELECT (SELECT format('%s.%s', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = x.tableoid) AS chunk,
              count(*)::text AS rows, min(${time})::text AS min_time, max(${time})::text AS max_time${sums.map((s) => `, ${s}`).join('')}
         FROM ${qualified(h.schema, h.name)} AS x GROUP BY x.tableoid`)).rows;
    const print: HypertablePrint = { timeColumn: h.time_column, chunks: {} };
    for (const chunk of chunks.sort((a, b) => String(a.chunk).localeCompare(String(b.chunk)))) {
      const [schema, name] = String(chunk.chunk).split(/\.(.*)/s) as [string, string];
      print.chunks[displayName(schema, name)] = {
        rows: Number(chunk.rows),
        minTime: chunk.min_time ?? null,
        maxTime: chunk.max_time ?? null,
        sums: Object.fromEntries(columns.map((c, i) => [c.name, chunk[`s${i}`] ?? null])),
      };
      if (h.time_type.startsWith('timestamp') && chunk.max_time && (newest === null || chunk.max_time > newest)) newest = chunk.max_time;
    }
    prints[displayName(h.schema, h.name)] = print;
  }
  return { prints, names: new Set(rows.map((h) => `${h.schema}.${h.name}`)), newest };
}

async function readContinuousAggregates(client: SqlClient): Promise<Record<string, ContinuousAggregatePrint>> {
  const { rows } = await client.query<{ schema: string; name: string; mat_schema: string; mat_name: string; materialized_only: boolean }>(
    `SELECT view_schema AS schema, view_name AS name, materialization_hypertable_schema AS mat_schema,
            materialization_hypertable_name AS mat_name, materialized_only
       FROM timescaledb_information.continuous_aggregates ORDER BY 1, 2`);
  const out: Record<string, ContinuousAggregatePrint> = {};
  for (const v of rows) {
    const count = (await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${qualified(v.mat_schema, v.mat_name)}`)).rows[0]!.n;
    out[displayName(v.schema, v.name)] = { materializedOnly: v.materialized_only === true || String(v.materialized_only) === 't', materializedRows: Number(count) };
  }
  return out;
}

async function readJobs(client: SqlClient): Promise<Record<string, JobPrint>> {
  const { rows } = await client.query<{ id: string; proc: string; relation: string | null; schedule: string; scheduled: boolean | string; config: string | null }>(
    `SELECT job_id::text AS id, format('%s.%s', proc_schema, proc_name) AS proc,
            CASE WHEN hypertable_name IS NULL THEN NULL ELSE format('%s.%s', hypertable_schema, hypertable_name) END AS relation,
            schedule_interval::text AS schedule, scheduled, config::text AS config
       FROM timescaledb_information.jobs ORDER BY job_id`);
  return Object.fromEntries(rows.map((j) => [j.id, {
    proc: j.proc.replace(/^_timescaledb_functions\./, ''),
    relation: j.relation ? j.relation.replace(/^(public|_timescaledb_internal)\./, '') : null,
    schedule: j.schedule,
    scheduled: j.scheduled === true || j.scheduled === 't',
    config: j.config,
  }]));
}

/** "2026-11-25 06:19:06.328+00" (DateStyle ISO, UTC) as ISO 8601. */
function isoFromPg(text: string): string {
  const date = new Date(text.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
  return Number.isNaN(date.getTime()) ? text : date.toISOString();
}

/**
 * Takes the fingerprint of the database `client` reads. With `transaction: 'own'` (the default)
 * it opens a REPEATABLE READ, READ ONLY transaction of its own so every query sees the same data;
 * with 'caller' the caller already holds one (the backup's exported snapshot).
 */
export async function takeFingerprint(client: SqlClient, options: { transaction?: 'own' | 'caller' } = {}): Promise<Fingerprint> {
  const own = (options.transaction ?? 'own') === 'own';
  if (own) await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    for (const setting of SESSION_SETTINGS) await client.query(setting);
    const extensions = Object.fromEntries((await client.query<{ name: string; version: string }>(`SELECT extname AS name, extversion AS version FROM pg_extension ORDER BY 1`)).rows.map((e) => [e.name, e.version]));
    const timescale = 'timescaledb' in extensions;
    const hyper = timescale ? await readHypertables(client) : { prints: {}, names: new Set<string>(), newest: null };
    const fingerprint: Fingerprint = {
      format: FINGERPRINT_FORMAT,
      extensions,
      tables: await readTables(client, hyper.names),
      hypertables: hyper.prints,
      continuousAggregates: timescale ? await readContinuousAggregates(client) : {},
      jobs: timescale ? await readJobs(client) : {},
      newestData: hyper.newest === null ? null : isoFromPg(hyper.newest),
    };
    if (own) await client.query('COMMIT');
    return fingerprint;
  } catch (error) {
    if (own) await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

