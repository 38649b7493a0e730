import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { libpqEnv } from '../../ops/lib/connection.js';
import { migrate } from '../../ops/lib/index.js';
import { loadMigrations } from '../../ops/lib/migrations/files.js';
import { connect } from '../../ops/lib/pg.js';
import { nativeUnavailableReason, PG_BIN, startNativeCluster, type NativeCluster } from '../support/nativeCluster.js';
import { APACHE_EDITION } from '../support/timescale.js';
import { sqlState } from './support.js';
import { serverTargetOf } from '../support/targets.js';

// 001-003 on native PostgreSQL 15 with TimescaleDB's Apache edition (the community build with
// timescaledb.license = apache): plain tables and hypertables only. 004-006 say
// `-- requires: community`; here we see why.

const unavailable = nativeUnavailableReason();

describe.skipIf(unavailable !== undefined)('schema on the Apache edition (PostgreSQL 15)', () => {
  let cluster: NativeCluster;
  let client: pg.Client;
  const rows = async <T = Record<string, unknown>>(sql: string, values: unknown[] = []) => (await client.query(sql, values)).rows as T[];

  beforeAll(async () => {
    cluster = await startNativeCluster({ settings: APACHE_EDITION });
    client = await connect(cluster.info);
    await client.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
  });

  afterAll(async () => {
    await client?.end().catch(() => {});
    await cluster?.stop();
  });

  it('applies 001-003 through the migration runner', async () => {
    expect(await rows(`SHOW timescaledb.license`)).toEqual([{ 'timescaledb.license': 'apache' }]);
    const result = await migrate({ target: await serverTargetOf(cluster.info), to: 3 });
    expect(result.applied.map((f) => f.version)).toEqual([1, 2, 3]);
  });

  it('has the tables, both hypertables with 7-day chunks, and the 25 indexes of 001-003, all valid', async () => {
    const tables = await rows<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`);
    expect(tables.map((r) => r.t)).toEqual(['alerts', 'api_tokens', 'cost_calculations', 'devices', 'metrics', 'migration_history', 'plugins', 'rate_schedules', 'users']);
    expect(await rows(`SELECT hypertable_name AS h, time_interval::text AS i FROM timescaledb_information.dimensions ORDER BY 1`)).toEqual([
      { h: 'cost_calculations', i: '7 days' },
      { h: 'metrics', i: '7 days' },
    ]);
    const idx = await rows<{ valid: boolean }>(`SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'idx\\_%'`);
    expect(idx).toHaveLength(25);
    expect(idx.every((i) => i.valid)).toBe(true);
  });

  it('cannot run 004 (continuous aggregates need the community edition), which is what its header says', async () => {
    const file = (await loadMigrations()).find((f) => f.version === 4)!;
    expect(file.requiresCommunity).toBe(true);
    await client.query('BEGIN');
    const error = await client.query(file.sql).then(() => undefined, (e: Error) => e);
    await client.query('ROLLBACK');
    expect(error?.message).toMatch(/not supported under the current "apache" license/);
  });

  it('lets a member of aetherlens_backup pg_dump the whole database, chunks and TimescaleDB catalog included', async () => {
    await client.query(`
      INSERT INTO devices (device_id, name, device_type) VALUES ('dump-plug', 'Dump test', 'smart_plug');
      INSERT INTO metrics (time, device_id, power_deciwatts, energy_milliwatt_hours)
        SELECT ts, 'dump-plug', 500, 4167 FROM generate_series(now() - interval '30 days', now(), interval '5 minutes') AS ts;
      CREATE ROLE backup_login LOGIN PASSWORD 'backup-test-password' IN ROLE aetherlens_backup;`);
    expect(await rows(`SELECT count(*)::int AS n FROM timescaledb_information.chunks`)).not.toEqual([{ n: 0 }]);
    const dir = await mkdtemp(join(tmpdir(), 'aetherlens-dump-'));
    try {
      const out = join(dir, 'db.dump');
      const result = await execa(join(PG_BIN, 'pg_dump'), ['-Fc', '-f', out], {
        env: libpqEnv({ ...cluster.info, user: 'backup_login', password: 'backup-test-password' }),
        reject: false,
      });
      expect(result.stderr).not.toMatch(/permission denied|must be owner/i);
      expect(result.exitCode).toBe(0);
      expect((await stat(out)).size).toBeGreaterThan(10_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps the application out of DDL', async () => {
    await client.query('SET ROLE aetherlens_app');
    try {
      expect(await sqlState(client, `INSERT INTO devices (device_id, name, device_type) VALUES ('app-plug', 'App', 'smart_plug')`)).toBe('ok');
      expect(await sqlState(client, 'CREATE TABLE sneaky (id int)')).toBe('42501');
      expect(await sqlState(client, `SELECT create_hypertable('alerts', by_range('triggered_at'))`)).not.toBe('ok');
    } finally {
      await client.query('RESET ROLE');
    }
  });
});
