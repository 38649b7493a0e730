/**
 * Figure 2: ingest. Ours: seed() loading the benchmark dataset (reference rows, generated
 * readings through COPY, hourly cost), rows of metrics per second of the whole call. Baseline:
 * the same rows, exported to a file, sent with a plain COPY into an unindexed ordinary table
 * (LIKE metrics: no index, no check, no foreign key): the practical limit of one connection.
 * A diagnostic row sends a slice of the same file into the migrated metrics hypertable (its
 * indexes, checks and foreign key), which separates the generator's cost from the schema's.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { seed, type ConnectionInfo, type Logger, type SeedSummary, type Target } from '../../ops/lib/index.js';
import { withClient } from '../../ops/lib/pg.js';
import type { DatasetSize } from './scale.js';
import { serverTargetOf } from '../support/targets.js';

export const COLUMNS = 'time, device_id, power_deciwatts, energy_milliwatt_hours, voltage_decivolts, current_milliamps, power_factor_percent, frequency_centihertz, temperature_decicelsius, state';
/** Every run generates the same readings. */
export const BENCH_SEED = 20240601;

export interface IngestTiming {
  summary: SeedSummary;
  seedSeconds: number;
  copyFile: string;
  copyBytes: number;
  plainSeconds: number;
  /** COPY of the first `schemaRows` lines of the file into a migrated, empty-ish metrics table. */
  schemaRows: number;
  schemaSeconds: number;
}

/**
 * Loads the dataset with the generator; returns its summary and wall-clock seconds. With
 * `refreshAggregates: false` the seconds are the load alone (the caller materializes the aggregates).
 */
export async function seedDataset(target: Target, size: DatasetSize, end: Date, logger: Logger, options: { refreshAggregates?: boolean } = {}): Promise<{ summary: SeedSummary; seconds: number }> {
  const started = performance.now();
  const summary = await seed(target, { devices: size.devices, days: size.days, interval: size.interval, seed: BENCH_SEED, end, adminPassword: 'bench-admin-password-not-secret', ...options }, logger);
  return { summary, seconds: (performance.now() - started) / 1000 };
}

/** COPY … TO STDOUT into a file. */
export async function exportMetrics(client: pg.Client, file: string): Promise<number> {
  await pipeline(client.query(copyTo(`COPY (SELECT ${COLUMNS} FROM metrics) TO STDOUT`)), createWriteStream(file));
  return (await stat(file)).size;
}

/** Passes through the first `lines` lines of a COPY text stream, then ends it. */
function firstLines(lines: number): Transform {
  let left = lines;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (left <= 0) return done();
      let cut = 0;
      while (left > 0 && cut < chunk.length) {
        const nl = chunk.indexOf(10, cut);
        if (nl === -1) {
          cut = chunk.length;
          break;
        }
        cut = nl + 1;
        left--;
      }
      done(null, chunk.subarray(0, cut));
    },
  });
}

/** Seconds to COPY the file (or its first `lines` lines) into `table`, in one transaction. */
export async function copyFileInto(client: pg.Client, file: string, table: string, lines?: number): Promise<number> {
  const started = performance.now();
  await client.query('BEGIN');
  const source: Readable = createReadStream(file, { highWaterMark: 1 << 16 });
  const stream = client.query(copyFrom(`COPY ${table} (${COLUMNS}) FROM STDIN`));
  if (lines === undefined) await pipeline(source, stream);
  else await pipeline(source, firstLines(lines), stream);
  await client.query('COMMIT');
  return (performance.now() - started) / 1000;
}

/** Seconds of a plain COPY of the file into a new unindexed ordinary table, dropped afterwards. */
export async function plainCopy(connection: ConnectionInfo, file: string): Promise<number> {
  return withClient(connection, async (client) => {
    await client.query('DROP TABLE IF EXISTS bench_plain_metrics');
    await client.query('CREATE TABLE bench_plain_metrics (LIKE metrics)');
    try {
      return await copyFileInto(client, file, 'bench_plain_metrics');
    } finally {
      await client.query('DROP TABLE IF EXISTS bench_plain_metrics');
    }
  });
}

/**
 * Seconds to COPY the file's first `lines` rows into the metrics table of `side`, a database that
 * is migrated and has the same devices (seeded with one old day, far from the file's times).
 */
export async function schemaCopy(side: ConnectionInfo, size: DatasetSize, file: string, lines: number, logger: Logger): Promise<number> {
  await seed(await serverTargetOf(side), { devices: size.devices, days: 1, interval: '1h', seed: BENCH_SEED, end: new Date('2001-01-01T00:00:00Z'), adminPassword: 'bench-admin-password-not-secret' }, logger);
  return withClient(side, (client) => copyFileInto(client, file, 'metrics', lines));
}

export const copyFilePath = (tmpDir: string) => join(tmpDir, 'metrics.copy');
