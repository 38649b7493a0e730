import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startNativeCluster, nativeUnavailableReason, type NativeCluster } from '../support/nativeCluster.js';
import { runCli } from '../support/cli.js';
import { APACHE_EDITION, serverTimescale, versionPattern } from '../support/timescale.js';
import { withClient } from '../../ops/lib/pg.js';

const unavailable = nativeUnavailableReason();
if (unavailable) console.warn(`skipping native schema tests: ${unavailable}`);

describe.skipIf(unavailable)('the real migrations on the community edition', () => {
  let cluster: NativeCluster;
  beforeAll(async () => {
    cluster = await startNativeCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  test('migrate applies all six files, and the inventory finds everything they promise', async () => {
    const server = await serverTimescale(cluster.info);
    const migrate = await runCli(['migrate', '--json'], { DATABASE_URL: cluster.url });
    expect(migrate.stderr).toContain('applied 006_');
    expect(migrate.exitCode).toBe(0);
    expect(JSON.parse(migrate.stdout)).toMatchObject({ headBefore: null, head: 6, edition: server.edition });
    const inv = await runCli(['inventory', '--json'], { DATABASE_URL: cluster.url });
    const report = JSON.parse(inv.stdout);
    expect(report).toMatchObject({ edition: server.edition, timescaleVersion: server.version, migrationHead: 6, ok: true });
    expect(inv.exitCode).toBe(0);
    expect(report.hypertables).toMatchObject({ ok: true, compressionEnabled: { metrics: true, cost_calculations: true } });
    expect(report.indexes).toMatchObject({ ok: true, invalid: [] });
    expect(report.continuousAggregates.present.sort()).toEqual(['cost_daily', 'cost_hourly', 'metrics_daily', 'metrics_hourly']);
    expect(report.policies).toMatchObject({ ok: true, missing: [] });
    expect(report.policies.jobs).toHaveLength(12);
    const text = await runCli(['inventory'], { DATABASE_URL: cluster.url });
    expect(text.stdout.split('\n')[0]).toMatch(new RegExp(`^PostgreSQL 15\\.\\d+, TimescaleDB ${versionPattern(server.version)} \\(${server.edition} edition\\), migration head 6$`));
    const again = await runCli(['migrate', '--json'], { DATABASE_URL: cluster.url });
    expect(JSON.parse(again.stdout)).toMatchObject({ head: 6, applied: [] });
  });
});

describe.skipIf(unavailable)('the real migrations on the Apache edition (the same build, timescaledb.license = apache)', () => {
  let cluster: NativeCluster;
  beforeAll(async () => {
    cluster = await startNativeCluster({ settings: APACHE_EDITION });
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
    const server = await serverTimescale(cluster.info);
    expect(server.edition).toBe('apache');
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
    expect(text.stdout.split('\n')[0]).toMatch(new RegExp(`^PostgreSQL 15\\.\\d+, TimescaleDB ${versionPattern(server.version)} \\(apache edition\\), migration head 3$`));
  });
});
