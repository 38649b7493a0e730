/**
 * Figure 4: compression on the generated data, by the policy of migration 005 run on demand
 * (CALL run_job, through the library's runDueJobs), on either engine: the bench runs it at the
 * point where its effect is measured instead of waiting for a scheduler (the embedded engine has
 * none; a server's would run it within 12 hours). Bytes are TimescaleDB's own accounting (heap +
 * indexes + TOAST) of the chunks the policy compressed, before and after; the whole-table sizes
 * (including the chunks younger than the policy's 7 days, which stay row-oriented) are reported
 * beside them.
 */
import type pg from 'pg';
import { runDueJobs, type ConnectionInfo, type Logger } from '../../ops/lib/index.js';
import { withClient } from '../../ops/lib/pg.js';
import type { BenchRow } from './context.js';
import { mb, seconds } from './stats.js';

export interface TableCompression {
  table: string;
  tableBytesBefore: number;
  tableBytesAfter: number;
  /** Chunks the policy compressed: their bytes before and after. */
  chunks: number;
  chunksTotal: number;
  chunkBytesBefore: number;
  chunkBytesAfter: number;
  jobSeconds: number;
  /** Chunks found compressed already and decompressed before the measured run. */
  decompressedFirst: number;
}

async function tableBytes(client: pg.Client, table: string): Promise<number> {
  const { rows } = await client.query<{ b: string }>('SELECT hypertable_size($1::regclass)::text AS b', [table]);
  return Number(rows[0]!.b);
}

/** Runs the compression policy of each table and measures what it saved. Needs the community edition. */
export async function compressByPolicy(connection: ConnectionInfo, tables: readonly string[], logger: Logger, label: string): Promise<TableCompression[]> {
  const before = await withClient(connection, async (client) => {
    // A chunk compressed before the measured run (a scheduler run that raced the load compresses
    // the oldest chunk half-full) is decompressed first: the figures are of whole chunks.
    const { rows: early } = await client.query<{ chunk: string; t: string }>(
      `SELECT format('%I.%I', chunk_schema, chunk_name) AS chunk, hypertable_name AS t FROM timescaledb_information.chunks WHERE hypertable_name = ANY($1::text[]) AND is_compressed`,
      [tables],
    );
    for (const { chunk } of early) await client.query('SELECT decompress_chunk($1::regclass)', [chunk]);
    if (early.length) logger.warn(`${label}: ${early.length} chunk(s) were compressed before the measured run; decompressed them first`);
    const jobs = await client.query<{ id: number; t: string }>(
      `SELECT job_id AS id, hypertable_name AS t FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression' AND hypertable_name = ANY($1::text[])`,
      [tables],
    );
    const sizes = new Map<string, number>();
    for (const t of tables) sizes.set(t, await tableBytes(client, t));
    return { jobs: jobs.rows, sizes, early };
  });
  const out: TableCompression[] = [];
  for (const table of tables) {
    const job = before.jobs.find((j) => j.t === table);
    if (!job) throw new Error(`no compression policy on ${table}: is migration 005 applied?`);
    logger.info(`${label}: compression policy on ${table} (job ${job.id})`);
    const started = performance.now();
    const [result] = await runDueJobs(connection, { jobId: job.id });
    if (!result?.ok) throw new Error(`compression job ${job.id} failed: ${result?.error ?? 'did not run'}`);
    const jobSeconds = (performance.now() - started) / 1000;
    const after = await withClient(connection, async (client) => {
      const { rows } = await client.query<{ n: string; total: string; b: string | null; a: string | null }>(
        `SELECT count(*) FILTER (WHERE compression_status = 'Compressed') AS n, count(*) AS total,
                sum(before_compression_total_bytes)::text AS b, sum(after_compression_total_bytes)::text AS a
           FROM chunk_compression_stats($1::regclass)`,
        [table],
      );
      return { ...rows[0]!, size: await tableBytes(client, table) };
    });
    out.push({
      table,
      tableBytesBefore: before.sizes.get(table)!,
      tableBytesAfter: after.size,
      chunks: Number(after.n),
      chunksTotal: Number(after.total),
      chunkBytesBefore: Number(after.b ?? 0),
      chunkBytesAfter: Number(after.a ?? 0),
      jobSeconds,
      decompressedFirst: before.early.filter((e) => e.t === table).length,
    });
  }
  return out;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** One row per table: the chunks the policy compressed, against their size before; `where` names engine and dataset. */
export function compressionRows(results: readonly TableCompression[], where: string): BenchRow[] {
  return results.map((c) => {
    const saved = 1 - c.chunkBytesAfter / c.chunkBytesBefore;
    const tableSaved = 1 - c.tableBytesAfter / c.tableBytesBefore;
    return {
      figure: `compression: ${c.table}, chunks the policy compressed`,
      ours: mb(c.chunkBytesAfter),
      baseline: `${mb(c.chunkBytesBefore)} before`,
      ratio: `${pct(saved)} saved`,
      target: c.table === 'metrics' ? 'spec > 70%; goal ≥ 90%' : 'spec > 70%',
      verdict: saved > 0.7 && (c.table !== 'metrics' || saved >= 0.9) ? 'met' : 'missed',
      note: `${where}; ${c.chunks} of ${c.chunksTotal} chunks compressed by CALL run_job (${seconds(c.jobSeconds)}${c.decompressedFirst ? `; ${c.decompressedFirst} compressed earlier by a scheduler run, decompressed first` : ''}); whole table incl. the uncompressed newest chunks ${mb(c.tableBytesBefore)} → ${mb(c.tableBytesAfter)} (${pct(tableSaved)} saved)`,
    };
  });
}
