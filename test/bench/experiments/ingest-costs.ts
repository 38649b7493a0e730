/**
 * Side experiment behind docs/bench.md "What misses": what each part of the schema costs a COPY
 * into metrics, and what a second connection gives the loader. On a native server tuned like the
 * 512 MB container: seeds DAYS of 50 devices, exports the rows to a file, then COPYs that file into
 * fresh databases whose metrics table lacks one thing or another, and runs the seed library's
 * loader (loadReadings) on one and on two connections (devices split between them).
 *
 *     npx tsx test/bench/experiments/ingest-costs.ts            # 20 days, 1.44 M rows
 *     DAYS=10 npx tsx test/bench/experiments/ingest-costs.ts
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { tuningFor } from '../../../infra/tuning.js';
import { migrate, seed, silentLogger, type ConnectionInfo } from '../../../ops/lib/index.js';
import { connect, withClient } from '../../../ops/lib/pg.js';
import { DEFAULT_SEEDS_DIR, loadGeneratorSettings, loadReferenceData } from '../../../ops/lib/seed/data.js';
import { deviceCatalog } from '../../../ops/lib/seed/devices.js';
import { deviceModel } from '../../../ops/lib/seed/generator.js';
import { loadReadings, type DeviceLoad } from '../../../ops/lib/seed/load.js';
import { planGeneration } from '../../../ops/lib/seed/options.js';
import { pricer } from '../../../ops/lib/seed/rates.js';
import { startNativeCluster } from '../../support/nativeCluster.js';
import { BENCH_SEED, COLUMNS } from '../ingest.bench.js';
import { serverTargetOf } from '../../support/targets.js';

const DEVICES = 50;
const days = Number(process.env.DAYS ?? 20);
const end = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000);
const cluster = await startNativeCluster({ settings: { ...tuningFor(512, 1) } });
const dir = await mkdtemp(join(tmpdir(), 'aetherlens-ingest-costs-'));
const file = join(dir, 'metrics.copy');
const say = (label: string, rows: number, seconds: number) => process.stdout.write(`${label}: ${Math.round(rows / seconds).toLocaleString('en-US')} rows/s (${seconds.toFixed(1)} s)\n`);
let databases = 0;

/** A migrated database with the reference rows and every device (one old hour of readings each). */
async function freshDatabase(): Promise<ConnectionInfo> {
  const name = `experiment_${databases++}`;
  await withClient({ ...cluster.info, database: 'postgres' }, (c) => c.query(`CREATE DATABASE ${name}`));
  const info = { ...cluster.info, database: name };
  await migrate({ target: await serverTargetOf(info), to: 3 });
  await seed(await serverTargetOf(info), { devices: DEVICES, days: 1, interval: '1h', seed: BENCH_SEED, end: new Date('2001-01-01T00:00:00Z'), adminPassword: 'experiment-password-not-secret' }, silentLogger);
  return info;
}

async function copyInto(info: ConnectionInfo, table: string, before = ''): Promise<number> {
  return withClient(info, async (c) => {
    if (before) await c.query(before);
    const started = performance.now();
    await c.query('BEGIN');
    await pipeline(createReadStream(file, { highWaterMark: 1 << 16 }), c.query(copyFrom(`COPY ${table} (${COLUMNS}) FROM STDIN`)));
    await c.query('COMMIT');
    return (performance.now() - started) / 1000;
  });
}

try {
  let info = await freshDatabase();
  let started = performance.now();
  const summary = await seed(await serverTargetOf(info), { devices: DEVICES, days, interval: '1m', seed: BENCH_SEED, end }, silentLogger);
  const rows = summary.writtenRows;
  say(`seed() of ${rows.toLocaleString('en-US')} rows`, rows, (performance.now() - started) / 1000);
  await withClient(info, (c) => pipeline(c.query(copyTo(`COPY (SELECT ${COLUMNS} FROM metrics WHERE time >= '2002-01-01') TO STDOUT`)), createWriteStream(file)));
  say('COPY into a plain unindexed table', rows, await copyInto(info, 'plain_metrics', 'CREATE TABLE plain_metrics (LIKE metrics)'));

  const variants: [string, string][] = [
    ['COPY into metrics as migrated', ''],
    ['  without the foreign key check', 'SET session_replication_role = replica'],
    ['  without idx_metrics_time', 'DROP INDEX idx_metrics_time'],
    ['  without both', 'DROP INDEX idx_metrics_time; SET session_replication_role = replica'],
  ];
  for (const [label, before] of variants) say(label, rows, await copyInto(await freshDatabase(), 'metrics', before));

  const reference = await loadReferenceData(DEFAULT_SEEDS_DIR);
  const settings = await loadGeneratorSettings(DEFAULT_SEEDS_DIR);
  const plan = planGeneration({ devices: DEVICES, days, interval: '1m', seed: BENCH_SEED, end }, settings.defaults);
  const schedules = new Map(reference.rateSchedules.map((s) => [s.name, s]));
  for (const connections of [1, 2]) {
    info = await freshDatabase();
    const ids = await withClient(info, async (c) => new Map((await c.query<{ id: number; name: string }>('SELECT rate_schedule_id AS id, name FROM rate_schedules')).rows.map((r) => [r.name, r.id])));
    const loads: DeviceLoad[] = deviceCatalog(reference, DEVICES).map((device) => {
      const model = deviceModel(device, plan.seed, settings.site);
      const schedule = device.rateSchedule ? schedules.get(device.rateSchedule) : undefined;
      return schedule ? { model, pricing: { rateScheduleId: ids.get(schedule.name)!, price: pricer(schedule.rates, schedule.timezone) } } : { model };
    });
    started = performance.now();
    await Promise.all(
      Array.from({ length: connections }, async (_, worker) => {
        const client = await connect(info);
        try {
          await loadReadings(client, plan, loads.filter((_, i) => i % connections === worker), silentLogger, { method: 'copy' });
        } finally {
          await client.end();
        }
      }),
    );
    say(`loadReadings on ${connections} connection(s)`, rows, (performance.now() - started) / 1000);
  }
} finally {
  await cluster.stop();
  await rm(dir, { recursive: true, force: true });
}
