import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeUnavailableReason } from '../support/nativeCluster.js';
import { startJobScheduler, stopJobScheduler } from '../support/timescale.js';
import { asRole, openMigratedServer, type TestServer } from './support.js';

// The policies of 004-006 on native PostgreSQL 15 with the community edition. The job scheduler is
// stopped while they run one at a time with run_job, and the data says whether they did
// what they promise: buckets refreshed inside their window only, chunks older than 7 days
// compressed with every row still readable, raw chunks older than 90 days dropped while their
// hourly aggregates stay. The last test starts the scheduler again and lets the background
// workers run two of them.

const unavailable = nativeUnavailableReason();
let t: TestServer;
const rows = async <T = Record<string, unknown>>(sql: string, values: unknown[] = []) => (await t.client.query(sql, values)).rows as T[];
const one = async <T = Record<string, unknown>>(sql: string, values: unknown[] = []) => (await rows<T>(sql, values))[0]!;

/** The policy job of a kind on a relation (hypertable or continuous aggregate). */
async function jobId(proc: string, relation: string): Promise<number> {
  const r = await one<{ id: number }>(
    `SELECT j.job_id AS id FROM timescaledb_information.jobs j
     LEFT JOIN timescaledb_information.continuous_aggregates c ON j.hypertable_name IN (c.view_name, c.materialization_hypertable_name)
     WHERE j.proc_name = $1 AND coalesce(c.view_name, j.hypertable_name) = $2`,
    [proc, relation],
  );
  return r.id;
}

async function runJob(proc: string, relation: string): Promise<number> {
  const started = Date.now();
  await t.client.query('CALL run_job($1)', [await jobId(proc, relation)]);
  return Date.now() - started;
}

/** A continuous aggregate's materialized hypertable, to see what a refresh wrote (the view would add real-time rows). */
async function materialized(view: string): Promise<string> {
  const r = await one<{ s: string; n: string }>(
    `SELECT materialization_hypertable_schema AS s, materialization_hypertable_name AS n FROM timescaledb_information.continuous_aggregates WHERE view_name = $1`,
    [view],
  );
  return `${r.s}.${r.n}`;
}

const checksum = () =>
  one(`SELECT count(*)::int AS n, sum(power_deciwatts) AS power, sum(energy_milliwatt_hours) AS energy, min(time) AS first, max(time) AS last,
              sum(extract(epoch FROM time))::bigint AS times FROM metrics`);

beforeAll(async () => {
  if (unavailable) return;
  t = await openMigratedServer();
  await stopJobScheduler(t.client);
  // 100 days of readings every 10 minutes for two plugs, ending at the last full hour, with
  // values chosen so every sum is obvious: 20 Wh and 10 Wh per reading.
  await t.client.query(`
    INSERT INTO rate_schedules (name, schedule_type, rates, effective_from)
      VALUES ('flat', 'flat', '{"default_period": "flat", "prices_per_kwh": {"flat": 0.3}}', '2020-01-01');
    INSERT INTO devices (device_id, name, device_type, rate_schedule_id)
      SELECT id, id, 'smart_plug', (SELECT rate_schedule_id FROM rate_schedules) FROM unnest(ARRAY['plug-a', 'plug-b']) AS id;
    INSERT INTO metrics (time, device_id, power_deciwatts, energy_milliwatt_hours, voltage_decivolts, state)
      SELECT ts, d.id, d.w * 10, d.w * 1000 / 6, 1200, 'on'
      FROM generate_series(date_trunc('hour', now()) - interval '100 days', date_trunc('hour', now()) - interval '10 minutes', interval '10 minutes') AS ts,
           (VALUES ('plug-a', 120), ('plug-b', 60)) AS d(id, w);
    INSERT INTO cost_calculations (time, period_end, device_id, rate_schedule_id, energy_kwh, cost, rate_period)
      SELECT ts, ts + interval '1 hour', d.id, (SELECT rate_schedule_id FROM rate_schedules), d.kwh, d.kwh * 0.3, 'flat'
      FROM generate_series(date_trunc('hour', now()) - interval '100 days', date_trunc('hour', now()) - interval '1 hour', interval '1 hour') AS ts,
           (VALUES ('plug-a', 0.12::float8), ('plug-b', 0.06)) AS d(id, kwh);`);
});

afterAll(async () => {
  await t?.close();
});

describe.skipIf(unavailable)('refresh policies', () => {
  it('metrics_hourly: materializes exactly the buckets of its 3-day window, with the raw sums', async () => {
    const table = await materialized('metrics_hourly');
    expect(await one(`SELECT count(*)::int AS n FROM ${table}`)).toEqual({ n: 0 });
    await runJob('policy_refresh_continuous_aggregate', 'metrics_hourly');
    const got = await one<Record<string, unknown>>(
      `SELECT count(*)::int AS buckets,
              bool_and(bucket >= now() - interval '3 days' - interval '1 hour' AND bucket + interval '1 hour' <= now() - interval '1 hour') AS inside_window,
              count(*) FILTER (WHERE h.energy_wh IS DISTINCT FROM r.energy OR h.readings <> r.n)::int AS wrong
       FROM ${table} h
       JOIN LATERAL (SELECT sum(energy_milliwatt_hours)::float8 / 1000 AS energy, count(*) AS n FROM metrics m
                     WHERE m.device_id = h.device_id AND m.time >= h.bucket AND m.time < h.bucket + interval '1 hour') r ON true`,
    );
    expect(got).toMatchObject({ inside_window: true, wrong: 0 });
    expect(got.buckets).toBeGreaterThanOrEqual(2 * 70); // ~71 complete hours per plug
    expect(got.buckets).toBeLessThanOrEqual(2 * 72);
    expect(await one(`SELECT DISTINCT energy_wh FROM ${table} WHERE device_id = 'plug-a'`)).toEqual({ energy_wh: 120 });
  });

  it('metrics_daily: rolls the hourly buckets up into days', async () => {
    await runJob('policy_refresh_continuous_aggregate', 'metrics_daily');
    const table = await materialized('metrics_daily');
    // Days fully covered by materialized hourly buckets equal the raw day; older days of this
    // backfill were never in the hourly window (why the seeder refreshes its own window), and the
    // newest may miss its last hour when the clock passed an hour between the two refreshes.
    const hourly = await materialized('metrics_hourly');
    const days = await rows<{ energy_wh: number; readings: string; avg_power_w: number }>(
      `SELECT d.energy_wh, d.readings, d.avg_power_w FROM ${table} d
       WHERE d.device_id = 'plug-a' AND d.bucket >= (SELECT min(bucket) FROM ${hourly})
         AND d.bucket + interval '1 day' <= (SELECT max(bucket) + interval '1 hour' FROM ${hourly})`,
    );
    expect(days.length).toBeGreaterThanOrEqual(2);
    expect(days.every((d) => d.energy_wh === 24 * 120 && Number(d.readings) === 144 && d.avg_power_w === 120)).toBe(true);
  });

  it('cost_hourly and cost_daily: the same for money', async () => {
    await runJob('policy_refresh_continuous_aggregate', 'cost_hourly');
    await runJob('policy_refresh_continuous_aggregate', 'cost_daily');
    const hourly = await materialized('cost_hourly');
    const check = await one(
      `SELECT count(*) FILTER (WHERE h.cost <> r.cost)::int AS wrong, count(*) > 0 AS some,
              bool_and(h.bucket >= now() - interval '3 days' - interval '1 hour') AS inside_window
       FROM ${hourly} h JOIN LATERAL (SELECT sum(cost) AS cost FROM cost_calculations c
                                      WHERE c.device_id = h.device_id AND c.time >= h.bucket AND c.time < h.bucket + interval '1 hour') r ON true`,
    );
    expect(check).toEqual({ wrong: 0, some: true, inside_window: true });
    const daily = await rows<{ cost: string }>(`SELECT DISTINCT cost::text AS cost FROM ${await materialized('cost_daily')} WHERE device_id = 'plug-a' AND bucket >= (SELECT min(bucket) FROM ${hourly}) AND bucket + interval '1 day' <= (SELECT max(bucket) + interval '1 hour' FROM ${hourly})`);
    expect(daily).toEqual([{ cost: '0.864000' }]); // 24 h × 0.12 kWh × $0.30
  });
});

describe.skipIf(unavailable)('compression policy', () => {
  it('compresses every chunk older than 7 days and leaves every row readable', async () => {
    const before = await checksum();
    const sizeBefore = await one<{ bytes: string }>(`SELECT hypertable_size('metrics') AS bytes`);
    await runJob('policy_compression', 'metrics');
    const chunks = await rows<{ old: boolean; compressed: boolean }>(
      `SELECT range_end <= now() - interval '7 days' AS old, is_compressed AS compressed FROM timescaledb_information.chunks WHERE hypertable_name = 'metrics'`,
    );
    expect(chunks.filter((c) => c.old).length).toBeGreaterThanOrEqual(13);
    expect(chunks.every((c) => c.compressed === c.old)).toBe(true);
    expect(await checksum()).toEqual(before);
    // Typical reads still work through the compressed chunks.
    expect(await one(`SELECT count(*)::int AS n, sum(energy_milliwatt_hours)::int AS e FROM metrics WHERE device_id = 'plug-b' AND time >= now() - interval '60 days' AND time < now() - interval '30 days'`)).toEqual({ n: 30 * 144, e: 30 * 144 * 10_000 });
    const stats = await one<{ chunks: string; before: string; after: string }>(
      `SELECT number_compressed_chunks AS chunks, before_compression_total_bytes AS before, after_compression_total_bytes AS after FROM hypertable_compression_stats('metrics')`,
    );
    expect(Number(stats.after)).toBeLessThan(Number(stats.before));
    expect(Number((await one<{ bytes: string }>(`SELECT hypertable_size('metrics') AS bytes`)).bytes)).toBeLessThan(Number(sizeBefore.bytes));
  });

  it('compresses cost_calculations the same way', async () => {
    await runJob('policy_compression', 'cost_calculations');
    const chunks = await rows<{ old: boolean; compressed: boolean }>(
      `SELECT range_end <= now() - interval '7 days' AS old, is_compressed AS compressed FROM timescaledb_information.chunks WHERE hypertable_name = 'cost_calculations'`,
    );
    expect(chunks.some((c) => c.compressed)).toBe(true);
    expect(chunks.every((c) => c.compressed === c.old)).toBe(true);
    expect(await one(`SELECT count(*)::int AS n, sum(cost)::text AS cost FROM cost_calculations WHERE device_id = 'plug-a'`)).toEqual({ n: 2400, cost: '86.400000' });
  });
});

describe.skipIf(unavailable)('retention policy', () => {
  it('drops raw chunks older than 90 days; the hourly aggregates of that time stay', async () => {
    // Materialize all 100 days first (allowed: the raw rows are still there).
    await t.client.query(`CALL refresh_continuous_aggregate('metrics_hourly', now() - interval '101 days', now() - interval '1 hour')`);
    const hourly = await materialized('metrics_hourly');
    const oldHours = `SELECT count(*)::int AS n, sum(energy_wh) AS e FROM ${hourly} WHERE bucket < now() - interval '91 days'`;
    const aggregatesBefore = await one<{ n: number }>(oldHours);
    expect(aggregatesBefore.n).toBeGreaterThan(2 * 24 * 8);
    expect(await one(`SELECT count(*)::int AS n FROM metrics WHERE time < now() - interval '97 days'`)).not.toEqual({ n: 0 });
    const cutoff = new Date(Date.now() - 90 * 86_400_000 + 60_000);
    const recent = `SELECT count(*)::int AS n, sum(energy_milliwatt_hours)::text AS e FROM metrics WHERE time >= $1`;
    const recentBefore = await one(recent, [cutoff]);

    await runJob('policy_retention', 'metrics');
    expect(await one(`SELECT count(*)::int AS n FROM metrics WHERE time < now() - interval '97 days'`)).toEqual({ n: 0 });
    expect(await one(`SELECT bool_and(range_end > now() - interval '90 days') AS ok FROM timescaledb_information.chunks WHERE hypertable_name = 'metrics'`)).toEqual({ ok: true });
    expect(await one(`SELECT min(time) > now() - interval '97 days' AS recent FROM metrics`)).toEqual({ recent: true });
    expect(await one(recent, [cutoff])).toEqual(recentBefore);

    // The next scheduled refresh looks back 3 days only: the old hourly buckets survive it.
    await runJob('policy_refresh_continuous_aggregate', 'metrics_hourly');
    expect(await one(oldHours)).toEqual(aggregatesBefore);
    await runJob('policy_retention', 'cost_calculations');
    expect(await one(`SELECT count(*)::int AS n FROM cost_calculations WHERE time < now() - interval '97 days'`)).toEqual({ n: 0 });
  });

  it('keeps hourly aggregates a year and daily ones five: nothing here is old enough to go', async () => {
    const counts = `SELECT (SELECT count(*) FROM metrics_hourly)::int AS hourly, (SELECT count(*) FROM metrics_daily)::int AS daily`;
    const before = await one(counts);
    for (const view of ['metrics_hourly', 'metrics_daily', 'cost_hourly', 'cost_daily']) await runJob('policy_retention', view);
    expect(await one(counts)).toEqual(before);
  });
});

describe.skipIf(unavailable)('backup role', () => {
  it('can read every table, chunk, compressed chunk, aggregate and sequence pg_dump reads', async () => {
    const relations = await rows<{ name: string; kind: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name, c.relkind::text AS kind
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S')
         AND (n.nspname = 'public' OR n.nspname LIKE '\\_timescaledb\\_%' OR n.nspname LIKE 'timescaledb\\_%')
       ORDER BY 1`,
    );
    expect(relations.some((r) => /_compressed_hypertable_|compress_hyper_/.test(r.name))).toBe(true);
    expect(relations.some((r) => /_hyper_\d+_\d+_chunk/.test(r.name))).toBe(true);
    const denied: string[] = [];
    await asRole(t.client, 'aetherlens_backup', async () => {
      for (const r of relations) {
        try {
          await t.client.query(`SELECT 1 FROM ${r.name} LIMIT 1`);
        } catch (error) {
          // Only privilege errors count: TimescaleDB refuses some direct reads of its internal
          // parents (a compressed hypertable "has no dimension slices") even to superusers.
          if ((error as { code?: string }).code === '42501') denied.push(`${r.name}: ${(error as Error).message}`);
        }
      }
    });
    expect(denied.slice(0, 10)).toEqual([]);
    const lacking = await rows(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND (n.nspname = 'public' OR n.nspname LIKE '\\_timescaledb\\_%')
         AND NOT has_table_privilege('aetherlens_backup', c.oid, 'SELECT')`,
    );
    expect(lacking).toEqual([]);
  });
});

describe.skipIf(unavailable)('background workers', () => {
  it('run a refresh and a compression policy on their own once the scheduler runs again', async () => {
    // One more reading in an hour inside the refresh window, and one old chunk decompressed.
    const bucket = `date_trunc('hour', now()) - interval '2 hours'`;
    await t.client.query(`INSERT INTO metrics (time, device_id, power_deciwatts, energy_milliwatt_hours, voltage_decivolts, state)
                          VALUES (${bucket} + interval '5 minutes', 'plug-a', 1200, 1000, 1200, 'on')`);
    const { chunk } = await one<{ chunk: string }>(
      `SELECT format('%I.%I', chunk_schema, chunk_name) AS chunk FROM timescaledb_information.chunks
        WHERE hypertable_name = 'metrics' AND is_compressed ORDER BY range_start LIMIT 1`);
    await t.client.query('SELECT decompress_chunk($1::regclass)', [chunk]);
    const hourly = await materialized('metrics_hourly');
    const state = async () => one(
      `SELECT (SELECT energy_wh FROM ${hourly} WHERE device_id = 'plug-a' AND bucket = ${bucket}) AS energy_wh,
              (SELECT is_compressed FROM timescaledb_information.chunks WHERE format('%I.%I', chunk_schema, chunk_name) = $1) AS compressed`, [chunk]);
    expect(await state()).toEqual({ energy_wh: 120, compressed: false });

    for (const id of [await jobId('policy_refresh_continuous_aggregate', 'metrics_hourly'), await jobId('policy_compression', 'metrics')]) {
      await t.client.query('SELECT alter_job($1, next_start => now())', [id]);
    }
    await startJobScheduler(t.client);
    await expect.poll(state, { timeout: 60_000, interval: 250 }).toEqual({ energy_wh: 121, compressed: true });
  });
});
