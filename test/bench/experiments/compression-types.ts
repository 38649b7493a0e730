/**
 * Side experiment behind docs/bench.md "What misses": how much compression the measurement
 * columns' type costs. Seeds the embedded engine (community edition), copies metrics into
 * hypertables that differ only in those columns' type (same indexes, migration 005's compression
 * settings), compresses the chunks older than 7 days and prints TimescaleDB's before/after bytes
 * and the compressed bytes per row of every column.
 *
 *     npx tsx test/bench/experiments/compression-types.ts          # 50 devices × 15 days
 *     DEVICES=10 DAYS=15 npx tsx test/bench/experiments/compression-types.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, seed, silentLogger } from '../../../ops/lib/index.js';
import { openEmbeddedTarget } from '../../../ops/lib/targets/embedded/target.js';

const COLUMNS = ['power_w', 'energy_wh', 'voltage_v', 'current_a', 'power_factor', 'frequency_hz', 'temperature_c'] as const;
/** Meter units: the generator quantises to these steps. */
const SCALE: Record<(typeof COLUMNS)[number], number> = { power_w: 10, energy_wh: 1000, voltage_v: 10, current_a: 1000, power_factor: 100, frequency_hz: 100, temperature_c: 10 };

interface Variant {
  type: (column: string) => string;
  value: (column: (typeof COLUMNS)[number]) => string;
}

const VARIANTS: Record<string, Variant> = {
  'double precision (as migrated)': { type: () => 'double precision', value: (c) => c },
  real: { type: () => 'real', value: (c) => `${c}::real` },
  'real, energy_wh double': { type: (c) => (c === 'energy_wh' ? 'double precision' : 'real'), value: (c) => (c === 'energy_wh' ? c : `${c}::real`) },
  'integer meter units': { type: () => 'integer', value: (c) => `round(${c} * ${SCALE[c]})::integer` },
};

const devices = Number(process.env.DEVICES ?? 50);
const days = Number(process.env.DAYS ?? 15);
const dir = await mkdtemp(join(tmpdir(), 'aetherlens-compression-types-'));
const target = await openEmbeddedTarget({ dataDir: join(dir, 'engine'), command: 'experiment' });
const engine = target.engine!;
const rows = async <T>(sql: string) => (await engine.db.query<T>(sql)).rows;
try {
  await migrate({ target });
  await seed(target, { devices, days, interval: '1m', seed: 20240601, adminPassword: 'experiment-password-not-secret', refreshAggregates: false }, silentLogger);
  let n = 0;
  for (const [name, v] of Object.entries(VARIANTS)) {
    const t = `variant_${n++}`;
    await engine.db.exec(`CREATE TABLE ${t} (time timestamptz NOT NULL, device_id text NOT NULL, ${COLUMNS.map((c) => `${c} ${v.type(c)}`).join(', ')}, state text)`);
    await engine.db.exec(`SELECT create_hypertable('${t}', by_range('time', INTERVAL '7 days'), create_default_indexes => false)`);
    await engine.db.exec(`CREATE UNIQUE INDEX ON ${t} (device_id, time DESC); CREATE INDEX ON ${t} (time DESC); CREATE INDEX ON ${t} (device_id, time DESC) WHERE state = 'fault'`);
    await engine.db.exec(`INSERT INTO ${t} SELECT time, device_id, ${COLUMNS.map(v.value).join(', ')}, state FROM metrics_si ORDER BY time, device_id`);
    await engine.db.exec(`ALTER TABLE ${t} SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id', timescaledb.compress_orderby = 'time DESC')`);
    await engine.db.exec(`SELECT compress_chunk(c) FROM show_chunks('${t}', older_than => now() - interval '7 days') c`);
    const [stats] = await rows<{ before: string; after: string }>(`SELECT sum(before_compression_total_bytes)::text AS before, sum(after_compression_total_bytes)::text AS after FROM chunk_compression_stats('${t}') WHERE compression_status = 'Compressed'`);
    const chunks = await rows<{ s: string; t: string; rows: string }>(
      `SELECT c2.schema_name AS s, c2.table_name AS t, (SELECT count(*) FROM ${t} WHERE time >= c1_range.range_start AND time < c1_range.range_end)::text AS rows
         FROM _timescaledb_catalog.chunk c1
         JOIN _timescaledb_catalog.chunk c2 ON c1.compressed_chunk_id = c2.id
         JOIN _timescaledb_catalog.hypertable h ON c1.hypertable_id = h.id
         JOIN timescaledb_information.chunks c1_range ON c1_range.chunk_name = c1.table_name
        WHERE h.table_name = '${t}'`,
    );
    const perColumn = new Map<string, number>();
    let compressedRows = 0;
    for (const chunk of chunks) {
      compressedRows += Number(chunk.rows);
      const [sizes] = await rows<Record<string, string>>(`SELECT ${COLUMNS.map((c) => `sum(pg_column_size(${c}))::text AS ${c}`).join(', ')} FROM ${chunk.s}.${chunk.t}`);
      for (const c of COLUMNS) perColumn.set(c, (perColumn.get(c) ?? 0) + Number(sizes?.[c] ?? 0));
    }
    const before = Number(stats?.before ?? 0);
    const after = Number(stats?.after ?? 0);
    process.stdout.write(`${name}: ${chunks.length} chunk(s), ${compressedRows.toLocaleString('en-US')} rows; ${(before / compressedRows).toFixed(1)} → ${(after / compressedRows).toFixed(1)} bytes/row, ${(100 * (1 - after / before)).toFixed(1)}% saved\n`);
    process.stdout.write(`  compressed bytes/row: ${COLUMNS.map((c) => `${c} ${((perColumn.get(c) ?? 0) / compressedRows).toFixed(2)}`).join(', ')}\n`);
  }
} finally {
  await target.close();
  await rm(dir, { recursive: true, force: true });
}
