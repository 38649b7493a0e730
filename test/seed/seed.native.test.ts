import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpsError } from '../../ops/lib/errors.js';
import { memoryLogger, silentLogger } from '../../ops/lib/logger.js';
import { connect } from '../../ops/lib/pg.js';
import { migrate, type Target } from '../../ops/lib/index.js';
import { seed } from '../../ops/lib/seed/index.js';
import { nativeUnavailableReason, startNativeCluster, type NativeCluster } from '../support/nativeCluster.js';
import { stopJobScheduler } from '../support/timescale.js';
import { seedChecksums } from './checksum.js';
import { serverTargetOf } from '../support/targets.js';

// The same seed on native PostgreSQL 15 (community edition, 001-006 by the migration runner):
// COPY FROM STDIN through pg-copy-streams, continuous aggregates refreshed over the seeded window,
// and byte-for-byte the rows the embedded engine gets. The dates are pinned in 2024, older than
// the retention policies keep: the job scheduler is stopped so they stay.

const NOW = Date.parse('2024-07-15T10:37:00Z');

describe.skipIf(nativeUnavailableReason() !== undefined)('seed on native PostgreSQL', () => {
  let cluster: NativeCluster;
  let client: pg.Client;
  let target: Target;

  beforeAll(async () => {
    cluster = await startNativeCluster();
    target = await serverTargetOf(cluster.info);
    await migrate({ target });
    client = await connect(cluster.info);
    await stopJobScheduler(client);
  });

  afterAll(async () => {
    await client?.end().catch(() => {});
    await cluster?.stop();
  });

  it('refuses to seed a database without the schema', async () => {
    const empty = await connect(cluster.info, 'postgres');
    try {
      const error = await seed(target, { now: NOW, session: empty }, silentLogger).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(OpsError);
      expect((error as OpsError).message).toMatchInlineSnapshot(`"the database has no AetherLens schema (no metrics or devices table): run \`aetherlens-db migrate\` before seeding"`);
    } finally {
      await empty.end();
    }
  });

  it('loads the sample through COPY, with the admin password given, and the same rows as the embedded engine', async () => {
    const summary = await seed(target, { now: NOW, adminPassword: 'a fine admin password' }, memoryLogger());
    // Given a connection, the loader writes on two sessions; the embedded suite writes on one.
    expect(summary).toMatchObject({ method: 'copy', sessions: 2, metricsRows: 6048, costRows: 338, writtenRows: 6048, refreshedAggregates: ['metrics_hourly', 'metrics_daily', 'cost_hourly', 'cost_daily'] });
    expect(summary.adminPassword).toBeUndefined();
    const sums = await seedChecksums(client);
    // Identical to test/seed/seed.embedded.test.ts: PostgreSQL 15 vs 17, COPY vs INSERT.
    expect(sums.metrics).toBe('6048 2195322 18294098 7308819 1891926 251985 36287883 944488 7071be79652f466b9901b16acb2809f9');
    expect(sums.cost).toBe('338 2.378904 5388100 cbebdd986140b0222dcaf54290ba01e1');
    expect(sums.hourly).toBe('507 18294098');
  });

  it('is idempotent over COPY too', async () => {
    const before = await seedChecksums(client);
    const again = await seed(target, { now: NOW, session: client }, silentLogger);
    expect(again).toMatchObject({ writtenRows: 0, skippedBatches: 3 });
    expect(await seedChecksums(client)).toEqual(before);
  });

  it('rolls back a batch stopped in the middle of its COPY (its DELETE included), and the session stays usable', async () => {
    const options = { now: NOW - 30 * 86_400_000, seed: 99, devices: 6, days: 3, interval: '1m', batchRows: 1440 };
    const complete = await seed(target, { ...options, session: client }, silentLogger);
    expect(complete.writtenRows).toBe(6 * 3 * 1440);
    const before = await seedChecksums(client);

    // The first batch is 10:37-24:00 (803 readings), the second a whole day (1440).
    // Abort exactly when the third batch's COPY starts: its DELETE has run, its rows are half-sent.
    const controller = new AbortController();
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    let copies = 0;
    const spy = (...args: unknown[]) => {
      if (typeof args[0] === 'object' && (args[0] as object).constructor.name === 'CopyStreamQuery' && ++copies === 3) controller.abort();
      return query(...args);
    };
    (client as unknown as { query: typeof spy }).query = spy;
    let error: unknown;
    try {
      error = await seed(target, { ...options, replace: true, signal: controller.signal, session: client }, silentLogger).then(() => undefined, (e: unknown) => e);
    } finally {
      (client as unknown as { query: typeof query }).query = query;
    }
    expect((error as OpsError).code).toBe('ABORTED');
    expect((error as OpsError).message).toMatch(/^seeding stopped after 2 of 24 batches \(2,243 readings written, none half-way\)/);
    expect(await seedChecksums(client)).toEqual(before);
    expect((await seed(target, { ...options, session: client }, silentLogger)).writtenRows).toBe(0);
  });

  it('stops both sessions at the first failure, keeps only whole batches, and closes the extra session', async () => {
    // Midnight-aligned: every batch is one whole day (1,440 readings) of one device.
    const options = { now: Date.parse('2024-04-01T00:00:00Z'), seed: 5, devices: 6, days: 3, interval: '1m', batchRows: 1440 };
    const otherSessions = async () => (await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() ORDER BY pid')).rows.map((r) => r.pid);
    const sessionsBefore = await otherSessions();
    // The very first row fails, as a full disk or a bad row would (a sequence: not rolled back);
    // the 17 other batches would all succeed if the other session did not stop.
    await client.query(`CREATE SEQUENCE test_fail_once;
      CREATE FUNCTION test_fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('test_fail_once') = 1 THEN RAISE EXCEPTION 'test: the disk is on fire'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER test_fail_once BEFORE INSERT ON metrics FOR EACH ROW EXECUTE FUNCTION test_fail_once();`);
    let completed = 0;
    try {
      const logger = { ...silentLogger, progress: () => void completed++ };
      const error = await seed(target, options, logger).then(() => undefined, (e: unknown) => e);
      expect((error as Error).message).toBe('test: the disk is on fire');
    } finally {
      await client.query('DROP TRIGGER test_fail_once ON metrics; DROP FUNCTION test_fail_once(); DROP SEQUENCE test_fail_once');
    }
    // The other session finished at most the batch it had in hand.
    expect(completed).toBeLessThanOrEqual(1);
    const perDay = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM metrics WHERE time >= '2024-03-29' AND time < '2024-04-01' GROUP BY device_id, time_bucket('1 day', time)`,
    );
    expect(perDay.rows.every((r) => r.n === 1440)).toBe(true);
    expect(perDay.rows.length).toBe(completed);
    // Both of seed()'s sessions are closed (a backend leaves pg_stat_activity a moment after its client).
    await expect.poll(otherSessions, { timeout: 5000 }).toEqual(sessionsBefore);
    expect((await seed(target, options, silentLogger)).writtenRows).toBe((18 - completed) * 1440);
  });

  it('prices periods longer than an hour: each cost row is the energy of exactly its period', async () => {
    for (const [interval, days, periods] of [['2h', 2, 24], ['1d', 3, 3]] as const) {
      const now = Date.parse(interval === '2h' ? '2024-03-10T00:00:00Z' : '2024-03-20T00:00:00Z');
      await seed(target, { now, seed: 3, devices: 3, days, interval }, silentLogger);
      const from = new Date(now - days * 86_400_000);
      const check = await client.query<{ n: number; wrong: number; lengths: string[] }>(
        `SELECT count(*)::int AS n,
                count(*) FILTER (WHERE abs(c.energy_kwh - m.kwh) > 1e-9 OR m.kwh IS NULL)::int AS wrong,
                array_agg(DISTINCT (c.period_end - c.time)::text) AS lengths
           FROM cost_calculations c
           CROSS JOIN LATERAL (SELECT sum(energy_milliwatt_hours)::float8 / 1e6 AS kwh FROM metrics
                                WHERE device_id = c.device_id AND time >= c.time AND time < c.period_end) m
          WHERE c.time >= $1 AND c.time < $2`,
        [from, new Date(now)],
      );
      // The sample's first 3 devices: 2 priced (the solar inverter has no tariff).
      expect(check.rows[0]).toEqual({ n: 2 * periods, wrong: 0, lengths: [interval === '2h' ? '02:00:00' : '1 day'] });
    }
  });

  it('interrupted while two sessions write, leaves only whole batches, and the next run finishes them', async () => {
    // Midnight-aligned, so every batch is one whole day (1,440 readings) of one device.
    const options = { now: Date.parse('2024-05-01T00:00:00Z'), seed: 7, devices: 6, days: 3, interval: '1m', batchRows: 1440 };
    const controller = new AbortController();
    let batches = 0;
    const logger = { ...silentLogger, progress: () => void (++batches === 4 && controller.abort()) };
    const error = await seed(target, { ...options, signal: controller.signal }, logger).then(() => undefined, (e: unknown) => e);
    expect((error as OpsError).code).toBe('ABORTED');
    expect((error as OpsError).message).toMatch(/^seeding stopped after \d+ of 18 batches \([\d,]+ readings written, none half-way\)/);
    const perDay = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM metrics WHERE time >= '2024-04-28' AND time < '2024-05-01' GROUP BY device_id, time_bucket('1 day', time)`,
    );
    expect(perDay.rows.length).toBeGreaterThanOrEqual(4);
    expect(perDay.rows.length).toBeLessThan(18);
    expect(perDay.rows.every((r) => r.n === 1440)).toBe(true);
    const rest = await seed(target, options, silentLogger);
    expect(rest.writtenRows).toBe((18 - perDay.rows.length) * 1440);
    expect(rest.skippedBatches).toBe(perDay.rows.length);
  });
});

