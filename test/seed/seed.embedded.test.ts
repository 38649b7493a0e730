import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpsError } from '../../ops/lib/errors.js';
import { memoryLogger, type Logger } from '../../ops/lib/logger.js';
import { seed, verifyPassword, type SeedSummary } from '../../ops/lib/seed/index.js';
import { applyMigrations } from '../schema/applyMigrations.js';
import { openTestEngine, type TestEngine } from '../schema/support.js';
import { seedChecksums } from './checksum.js';

// The sample data set on the embedded engine (community edition): INSERT batches instead of COPY,
// continuous aggregates refreshed over the seeded window.

const NOW = Date.parse('2024-07-15T10:37:00Z');
let t: TestEngine;
let first: SeedSummary;
const log = memoryLogger();

beforeAll(async () => {
  t = await openTestEngine();
  await applyMigrations(t.client);
  first = await seed(t.target, { now: NOW, session: t.client }, log);
});

afterAll(async () => {
  await t?.close();
});

const one = async <T = Record<string, unknown>>(sql: string, values: unknown[] = []) => (await t.client.query(sql, values)).rows[0] as T;

describe('seed on the embedded engine', () => {
  it('writes the reference rows and 7 days of 5-minute readings for 3 devices', () => {
    expect({ ...first, seconds: 0, adminPassword: first.adminPassword?.length }).toEqual({
      devices: 3,
      users: 2,
      rateSchedules: 2,
      plugins: 3,
      metricsRows: 6048,
      costRows: 338, // 169 clock hours touched × 2 priced devices (the solar inverter has no tariff)
      writtenRows: 6048,
      skippedBatches: 0,
      method: 'insert', // COPY FROM STDIN crashes the embedded engine: its wire server refuses it
      sessions: 1, // the engine serves one session
      start: new Date('2024-07-08T10:35:00Z'),
      end: new Date('2024-07-15T10:35:00Z'),
      intervalSeconds: 300,
      seconds: 0,
      refreshedAggregates: ['metrics_hourly', 'metrics_daily', 'cost_hourly', 'cost_daily'],
      adminPassword: 24,
    });
  });

  it('stores the data the native engine stores, to the last digit', async () => {
    expect(await seedChecksums(t.client)).toMatchInlineSnapshot(`
      {
        "cost": "338 2.378904 5388100 cbebdd986140b0222dcaf54290ba01e1",
        "hourly": "507 18294098",
        "metrics": "6048 2195322 18294098 7308819 1891926 251985 36287883 944488 7071be79652f466b9901b16acb2809f9",
      }
    `);
  });

  it('creates the admin with the generated password it returned once, and never logs it', async () => {
    const admin = await one<{ password_hash: string; role: string }>(`SELECT password_hash, role FROM users WHERE username = 'admin'`);
    expect(admin.role).toBe('admin');
    expect(admin.password_hash).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$/);
    expect(await verifyPassword(first.adminPassword!, admin.password_hash)).toBe(true);
    const john = await one<{ password_hash: string }>(`SELECT password_hash FROM users WHERE username = 'johndoe'`);
    expect(await verifyPassword(first.adminPassword!, john.password_hash)).toBe(false);
    expect(log.lines.join('\n')).not.toContain(first.adminPassword!);
  });

  it('is idempotent: a second run writes nothing, returns no password and leaves every row as it was', async () => {
    const before = await seedChecksums(t.client);
    const rowVersions = `SELECT string_agg(xmin::text, ',' ORDER BY 1) AS v FROM (SELECT xmin FROM devices UNION ALL SELECT xmin FROM users UNION ALL SELECT xmin FROM rate_schedules UNION ALL SELECT xmin FROM plugins) x`;
    const versions = await one(rowVersions);
    const again = await seed(t.target, { now: NOW, adminPassword: 'an attempt to change it', session: t.client }, log);
    expect(again).toMatchObject({ writtenRows: 0, skippedBatches: 3, metricsRows: 6048 });
    expect(again.adminPassword).toBeUndefined();
    expect(log.lines).toContain('warning: user admin already exists: its password was left unchanged');
    expect(await seedChecksums(t.client)).toEqual(before);
    expect(await one(rowVersions)).toEqual(versions);
  });

  it('keeps the seeded history visible after the hourly refresh policy has run (the backfill is materialized)', async () => {
    const raw = await one(`SELECT sum(energy_milliwatt_hours)::text AS e FROM metrics`);
    expect(await one(`SELECT sum(energy_milliwatt_hours)::text AS e FROM metrics_hourly`)).toEqual(raw);
    const job = await one<{ id: number }>(`SELECT job_id AS id FROM timescaledb_information.jobs WHERE proc_name = 'policy_refresh_continuous_aggregate' AND hypertable_name = 'metrics_hourly'`);
    await t.client.query('CALL run_job($1)', [job.id]);
    expect(await one(`SELECT sum(energy_milliwatt_hours)::text AS e FROM metrics_hourly`)).toEqual(raw);
    expect(await one(`SELECT sum(energy_milliwatt_hours)::text AS e FROM metrics_daily`)).toEqual(raw);
  });

  it('aggregates every column of metrics_hourly in SI units, as the same aggregates over metrics_si give', async () => {
    // close(): both NULL, or equal to 1e-9 relative (averages are computed in another order).
    const close = (a: string, b: string) => `((h.${a} IS NULL AND r.${b} IS NULL) OR abs(h.${a} - r.${b}) <= 1e-9 * greatest(1, abs(r.${b})))`;
    const columns: [string, string][] = [
      ['avg_power_w', 'avg(power_w)'], ['min_power_w', 'min(power_w)'], ['max_power_w', 'max(power_w)'], ['energy_wh', 'sum(energy_wh)'],
      ['avg_voltage_v', 'avg(voltage_v)'], ['min_voltage_v', 'min(voltage_v)'], ['max_voltage_v', 'max(voltage_v)'],
      ['avg_current_a', 'avg(current_a)'], ['max_current_a', 'max(current_a)'], ['avg_power_factor', 'avg(power_factor)'],
      ['avg_frequency_hz', 'avg(frequency_hz)'], ['max_temperature_c', 'max(temperature_c)'],
    ];
    const result = await one<{ buckets: number; wrong: number; sample: string | null }>(
      `SELECT count(*)::int AS buckets,
              count(*) FILTER (WHERE NOT (${columns.map(([c]) => close(c, c)).join(' AND ')}
                                          AND h.readings = r.n AND h.voltage_readings = r.nv AND h.power_factor_readings = r.npf AND h.frequency_readings = r.nf))::int AS wrong,
              min(h.device_id || ' ' || h.bucket) FILTER (WHERE NOT (${columns.map(([c]) => close(c, c)).join(' AND ')})) AS sample
         FROM metrics_hourly h
         JOIN LATERAL (SELECT count(*) AS n, count(voltage_v) AS nv, count(power_factor) AS npf, count(frequency_hz) AS nf,
                              ${columns.map(([c, agg]) => `${agg} AS ${c}`).join(', ')}
                         FROM metrics_si m WHERE m.device_id = h.device_id AND m.time >= h.bucket AND m.time < h.bucket + interval '1 hour') r ON true`,
    );
    expect(result.buckets).toBeGreaterThan(3 * 24 * 6);
    expect(result).toMatchObject({ wrong: 0, sample: null });
  });

  it('stops cleanly between batches, and the next run finishes the job exactly', async () => {
    const controller = new AbortController();
    let batches = 0;
    const aborting: Logger = { ...memoryLogger(), progress: () => void (++batches === 2 && controller.abort()) };
    const options = { now: NOW, seed: 7, batchRows: 288 }; // one UTC day per batch
    const stopped = await seed(t.target, { ...options, signal: controller.signal, session: t.client }, aborting).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(stopped).toBeInstanceOf(OpsError);
    expect((stopped as OpsError).code).toBe('ABORTED');
    expect((stopped as OpsError).message).toMatchInlineSnapshot(`"seeding stopped after 2 of 24 batches (449 readings written, none half-way): run the same seed again to finish, completed batches are skipped"`);
    const resumed = await seed(t.target, { ...options, session: t.client }, memoryLogger());
    // The first two batches: the window's first, partial day (10:35-24:00, 161 readings) and a whole one.
    expect(resumed).toMatchObject({ skippedBatches: 2, writtenRows: 6048 - 161 - 288 });
    const finished = await seedChecksums(t.client);
    const rewritten = await seed(t.target, { ...options, replace: true, session: t.client }, memoryLogger());
    expect(rewritten.writtenRows).toBe(6048);
    expect(await seedChecksums(t.client)).toEqual(finished);
  });

  it('moves with the window: a later end writes only the batches that changed', async () => {
    const later = await seed(t.target, { now: NOW + 3_600_000, seed: 7, batchRows: 288, session: t.client }, memoryLogger());
    // 3 devices × 8 batches (the window touches 8 UTC days); only the last day gains readings,
    // and that batch is rewritten whole: 00:00-11:35 is 139 readings.
    expect(later.skippedBatches).toBe(3 * 8 - 3);
    expect(later.writtenRows).toBe(3 * 139);
    expect(await one(`SELECT count(*)::int AS n FROM metrics`)).toEqual({ n: 6048 + 3 * 12 }); // rows before the new start stay
  });

  it('compresses by more than the specification’s 70% under the compression policy, every row still there', async () => {
    const before = await seedChecksums(t.client);
    const job = await one<{ id: number }>(`SELECT job_id AS id FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression' AND hypertable_name = 'metrics'`);
    await t.client.query('CALL run_job($1)', [job.id]); // July 2024 is well over 7 days old
    expect(await one(`SELECT bool_and(is_compressed) AS all FROM timescaledb_information.chunks WHERE hypertable_name = 'metrics'`)).toEqual({ all: true });
    const stats = await one<{ before: string; after: string }>(
      `SELECT before_compression_total_bytes AS before, after_compression_total_bytes AS after FROM hypertable_compression_stats('metrics')`,
    );
    expect(1 - Number(stats.after) / Number(stats.before)).toBeGreaterThan(0.7); // ~0.8 for this sample, ~0.88 for 1-minute data
    expect(await seedChecksums(t.client)).toEqual(before);
  });
});
