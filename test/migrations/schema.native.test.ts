import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startNativeCluster, nativeUnavailableReason, type NativeCluster } from '../support/nativeCluster.js';
import { runCli } from '../support/cli.js';
import { withClient } from '../../ops/lib/pg.js';

const unavailable = nativeUnavailableReason();
if (unavailable) console.warn(`skipping native schema tests: ${unavailable}`);

describe.skipIf(unavailable)('the real migrations on the Apache edition (Debian\'s TimescaleDB)', () => {
  let cluster: NativeCluster;
  beforeAll(async () => {
    cluster = await startNativeCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  test('migrate refuses before changing anything and names what to install', async () => {
    const result = await runCli(['migrate'], { DATABASE_URL: cluster.url });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe("error: migration 004_continuous_aggregates.sql needs the TimescaleDB community edition (compression, continuous aggregates, policies), but this server runs the Apache-2 edition (timescaledb.license = apache): use the timescale/timescaledb:2.22.1-pg15 image or Timescale's timescaledb-2-postgresql-15 package; nothing was changed");
    const tables = await withClient(cluster.info, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`)).rows[0].n);
    expect(tables).toBe(0);
  });

  test('the core schema (001-003) applies, and the inventory says what the edition lacks', async () => {
    const migrate = await runCli(['migrate', '--to', '3', '--json'], { DATABASE_URL: cluster.url });
    expect(migrate.exitCode).toBe(0);
    expect(JSON.parse(migrate.stdout)).toMatchObject({ head: 3, edition: 'apache' });
    const inv = await runCli(['inventory', '--json'], { DATABASE_URL: cluster.url });
    expect(inv.exitCode).toBe(1);
    const report = JSON.parse(inv.stdout);
    expect(report).toMatchObject({ edition: 'apache', migrationHead: 3, ok: false });
    expect(report.tables).toMatchObject({ ok: true, missing: [] });
    expect(report.tables.present).toHaveLength(7);
    expect(report.hypertables).toMatchObject({ ok: true, chunkIntervals: { metrics: '7 days', cost_calculations: '7 days' } });
    // Every index on a table is valid; only the continuous aggregates' indexes are missing.
    expect(report.indexes.invalid).toEqual([]);
    expect(report.indexes.missing.every((name: string) => /^idx_(metrics|cost)_(hourly|daily)_/.test(name))).toBe(true);
    expect(report.continuousAggregates.present).toEqual([]);
    expect(report.views).toMatchObject({ present: ['metrics_si'], ok: true });
    const text = await runCli(['inventory'], { DATABASE_URL: cluster.url });
    expect(text.stdout.split('\n')[0]).toMatch(/^PostgreSQL 15\.\d+, TimescaleDB 2\.19\.3 \(apache edition\), migration head 3$/);
  });
});
