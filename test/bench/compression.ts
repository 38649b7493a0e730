/**
 * Figure 4: compression on the generated data, by the policy of migration 005 run on demand
 * (CALL run_job, through the library's runDueJobs: the embedded engine has no background workers).
 * Bytes are TimescaleDB's own accounting (heap + indexes + TOAST) of the chunks the policy
 * compressed, before and after; the whole-table sizes (including the chunks younger than the
 * policy's 7 days, which stay row-oriented) are reported beside them.
 */
import type pg from 'pg';
import { runDueJobs, type ConnectionInfo, type Logger } from '../../ops/lib/index.js';
import { withClient } from '../../ops/lib/pg.js';

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
}

async function tableBytes(client: pg.Client, table: string): Promise<number> {
  const { rows } = await client.query<{ b: string }>('SELECT hypertable_size($1::regclass)::text AS b', [table]);
  return Number(rows[0]!.b);
}

/** Runs the compression policy of each table and measures what it saved. Needs the community edition. */
export async function compressByPolicy(connection: ConnectionInfo, tables: readonly string[], logger: Logger): Promise<TableCompression[]> {
  const before = await withClient(connection, async (client) => {
    const jobs = await client.query<{ id: number; t: string }>(
      `SELECT job_id AS id, hypertable_name AS t FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression' AND hypertable_name = ANY($1::text[])`,
      [tables],
    );
    const sizes = new Map<string, number>();
    for (const t of tables) sizes.set(t, await tableBytes(client, t));
    return { jobs: jobs.rows, sizes };
  });
  const out: TableCompression[] = [];
  for (const table of tables) {
    const job = before.jobs.find((j) => j.t === table);
    if (!job) throw new Error(`no compression policy on ${table}: is migration 005 applied?`);
    logger.info(`embedded: compression policy on ${table} (job ${job.id})`);
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
    });
  }
  return out;
}
