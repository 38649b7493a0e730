import type pg from 'pg';

export interface TimedQuery {
  name: string;
  rows: number;
  /** Milliseconds of a warm run (the second of two). */
  ms: number;
}

export interface CompressionSummary {
  chunks: number;
  compressedChunks: number;
  beforeBytes: number;
  afterBytes: number;
  /** Fraction of bytes saved on compressed chunks, 0..1; null when nothing is compressed yet. */
  saved: number | null;
}

async function timed(client: pg.Client, name: string, sql: string, params: unknown[]): Promise<TimedQuery> {
  await client.query(sql, params);
  const started = performance.now();
  const { rowCount } = await client.query(sql, params);
  return { name, rows: rowCount ?? 0, ms: Math.round((performance.now() - started) * 100) / 100 };
}

/**
 * The two questions the AetherLens dashboard asks most: a device's last day from raw readings,
 * and its last week hour by hour from the continuous aggregate.
 */
export async function sampleQueries(client: pg.Client, deviceId: string): Promise<TimedQuery[]> {
  return [
    await timed(client, `last 24 h of ${deviceId} (raw metrics)`,
      `SELECT time, power_w, energy_wh FROM metrics_si WHERE device_id = $1 AND time > now() - INTERVAL '24 hours' ORDER BY time DESC`, [deviceId]),
    await timed(client, `7 days hourly of ${deviceId} (metrics_hourly)`,
      `SELECT bucket, avg_power_w, energy_wh FROM metrics_hourly WHERE device_id = $1 AND bucket > now() - INTERVAL '7 days' ORDER BY bucket`, [deviceId]),
  ];
}

/** Bytes before and after compression over the metrics hypertable's compressed chunks. */
export async function compressionSummary(client: pg.Client, hypertable = 'metrics'): Promise<CompressionSummary> {
  const { rows } = await client.query<{ chunks: string; compressed: string; before: string | null; after: string | null }>(
    `SELECT count(*) AS chunks, count(*) FILTER (WHERE compression_status = 'Compressed') AS compressed,
            sum(before_compression_total_bytes) AS before, sum(after_compression_total_bytes) AS after
       FROM chunk_compression_stats($1::regclass)`, [hypertable]);
  const row = rows[0]!;
  const before = Number(row.before ?? 0);
  const after = Number(row.after ?? 0);
  return {
    chunks: Number(row.chunks),
    compressedChunks: Number(row.compressed),
    beforeBytes: before,
    afterBytes: after,
    saved: before > 0 ? 1 - after / before : null,
  };
}
