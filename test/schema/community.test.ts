import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../ops/lib/seed/password.js';
import { nativeUnavailableReason } from '../support/nativeCluster.js';
import { asRole, openMigratedServer, sqlState, type TestServer } from './support.js';

// The whole schema (001-006) on native PostgreSQL 15 with TimescaleDB's community edition, applied
// by the migration runner as `aetherlens-db migrate` does: each file in one transaction, which is
// itself the proof that none needs `-- transaction: none` (continuous aggregates are created
// WITH NO DATA).

const unavailable = nativeUnavailableReason();
let t: TestServer;

beforeAll(async () => {
  if (!unavailable) t = await openMigratedServer();
});

afterAll(async () => {
  await t?.close();
});

const rows = async <T = Record<string, unknown>>(sql: string, values: unknown[] = []) => (await t.client.query(sql, values)).rows as T[];

describe.skipIf(unavailable)('schema on the community edition', () => {
  it('has the core tables, the runner’s migration_history and the two hypertables', async () => {
    const tables = await rows<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`);
    expect(tables.map((r) => r.t)).toEqual(['alerts', 'api_tokens', 'cost_calculations', 'devices', 'metrics', 'migration_history', 'plugins', 'rate_schedules', 'users']);
    const dims = await rows(`SELECT hypertable_name, column_name, time_interval::text AS chunk FROM timescaledb_information.dimensions WHERE hypertable_schema = 'public' ORDER BY 1`);
    expect(dims).toEqual([
      { hypertable_name: 'cost_calculations', column_name: 'time', chunk: '7 days' },
      { hypertable_name: 'metrics', column_name: 'time', chunk: '7 days' },
    ]);
  });

  it('has 31 valid idx_ indexes and no others of its own', async () => {
    const idx = await rows<{ name: string; valid: boolean; table: string }>(
      `SELECT c.relname AS name, i.indisvalid AS valid, t.relname AS table
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
       WHERE c.relname LIKE 'idx\\_%' ORDER BY 1`,
    );
    expect(idx).toHaveLength(31);
    expect(idx.filter((i) => !i.valid)).toEqual([]);
    // Beyond them: only constraint indexes and TimescaleDB's own bucket index on materialized hypertables.
    const others = await rows<{ name: string }>(
      `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE (n.nspname = 'public' OR t.relname LIKE '\\_materialized\\_hypertable\\_%') AND c.relname NOT LIKE 'idx\\_%'
         AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid) ORDER BY 1`,
    );
    expect(others).toHaveLength(4);
    expect(others.map((o) => o.name).every((n) => /^_materialized_hypertable_\d+_bucket_idx$/.test(n))).toBe(true);
  });

  it('has four real-time continuous aggregates, the daily ones built on the hourly ones', async () => {
    const caggs = await rows<{ view: string; materialized_only: boolean; source: string }>(
      `SELECT c.view_name AS view, c.materialized_only,
              coalesce(src.view_name, c.hypertable_name) AS source
       FROM timescaledb_information.continuous_aggregates c
       LEFT JOIN timescaledb_information.continuous_aggregates src ON src.materialization_hypertable_name = c.hypertable_name
       ORDER BY 1`,
    );
    expect(caggs).toEqual([
      { view: 'cost_daily', materialized_only: false, source: 'cost_hourly' },
      { view: 'cost_hourly', materialized_only: false, source: 'cost_calculations' },
      { view: 'metrics_daily', materialized_only: false, source: 'metrics_hourly' },
      { view: 'metrics_hourly', materialized_only: false, source: 'metrics' },
    ]);
  });

  it('compresses both hypertables by device, newest first', async () => {
    const settings = await rows(
      `SELECT hypertable_name AS ht, attname, segmentby_column_index AS seg, orderby_column_index AS ord, orderby_asc AS asc
       FROM timescaledb_information.compression_settings WHERE hypertable_schema = 'public' ORDER BY 1, 2`,
    );
    expect(settings).toEqual([
      { ht: 'cost_calculations', attname: 'device_id', seg: 1, ord: null, asc: null },
      { ht: 'cost_calculations', attname: 'time', seg: null, ord: 1, asc: false },
      { ht: 'metrics', attname: 'device_id', seg: 1, ord: null, asc: null },
      { ht: 'metrics', attname: 'time', seg: null, ord: 1, asc: false },
    ]);
  });

  it('registers the policy jobs with their schedules and settings', async () => {
    const jobs = await rows<{ job: string }>(
      `SELECT format('%s on %s every %s: %s', proc_name, coalesce(c.view_name, j.hypertable_name), schedule_interval,
                     (j.config - 'hypertable_id' - 'mat_hypertable_id')::text) AS job
       FROM timescaledb_information.jobs j
       LEFT JOIN timescaledb_information.continuous_aggregates c ON j.hypertable_name IN (c.view_name, c.materialization_hypertable_name)
       WHERE j.job_id >= 1000 ORDER BY 1`, // below 1000: the extension's own jobs (telemetry, job history)
    );
    expect(jobs.map((j) => j.job)).toMatchInlineSnapshot(`
      [
        "policy_compression on cost_calculations every 12:00:00: {"compress_after": "7 days"}",
        "policy_compression on metrics every 12:00:00: {"compress_after": "7 days"}",
        "policy_refresh_continuous_aggregate on cost_daily every 01:00:00: {"end_offset": "01:00:00", "start_offset": "7 days"}",
        "policy_refresh_continuous_aggregate on cost_hourly every 00:30:00: {"end_offset": "01:00:00", "start_offset": "3 days"}",
        "policy_refresh_continuous_aggregate on metrics_daily every 01:00:00: {"end_offset": "01:00:00", "start_offset": "7 days"}",
        "policy_refresh_continuous_aggregate on metrics_hourly every 00:30:00: {"end_offset": "01:00:00", "start_offset": "3 days"}",
        "policy_retention on cost_calculations every 1 day: {"drop_after": "90 days"}",
        "policy_retention on cost_daily every 1 day: {"drop_after": "5 years"}",
        "policy_retention on cost_hourly every 1 day: {"drop_after": "1 year"}",
        "policy_retention on metrics every 1 day: {"drop_after": "90 days"}",
        "policy_retention on metrics_daily every 1 day: {"drop_after": "5 years"}",
        "policy_retention on metrics_hourly every 1 day: {"drop_after": "1 year"}",
      ]
    `);
  });

  it('never refreshes into data that retention has dropped: each start_offset < its source’s drop_after', async () => {
    const windows = await rows<{ cagg: string; start_offset: string; source_drop_after: string; safe: boolean }>(
      `WITH retention AS (
         SELECT coalesce(c.view_name, j.hypertable_name) AS rel, (j.config ->> 'drop_after')::interval AS drop_after
         FROM timescaledb_information.jobs j
         LEFT JOIN timescaledb_information.continuous_aggregates c ON j.hypertable_name IN (c.view_name, c.materialization_hypertable_name)
         WHERE j.proc_name = 'policy_retention'),
       refresh AS (
         SELECT c.view_name AS cagg, coalesce(src.view_name, c.hypertable_name) AS source, (j.config ->> 'start_offset')::interval AS start_offset
         FROM timescaledb_information.jobs j
         JOIN timescaledb_information.continuous_aggregates c ON j.hypertable_name IN (c.view_name, c.materialization_hypertable_name)
         LEFT JOIN timescaledb_information.continuous_aggregates src ON src.materialization_hypertable_name = c.hypertable_name
         WHERE j.proc_name = 'policy_refresh_continuous_aggregate')
       SELECT r.cagg, r.start_offset::text, x.drop_after::text AS source_drop_after, r.start_offset < x.drop_after AS safe
       FROM refresh r JOIN retention x ON x.rel = r.source ORDER BY 1`,
    );
    expect(windows).toEqual([
      { cagg: 'cost_daily', start_offset: '7 days', source_drop_after: '1 year', safe: true },
      { cagg: 'cost_hourly', start_offset: '3 days', source_drop_after: '90 days', safe: true },
      { cagg: 'metrics_daily', start_offset: '7 days', source_drop_after: '1 year', safe: true },
      { cagg: 'metrics_hourly', start_offset: '3 days', source_drop_after: '90 days', safe: true },
    ]);
  });

  it('applies 004-006 a second time without error or duplicate jobs (if_not_exists), where TimescaleDB allows it', async () => {
    const before = await rows<{ n: string }>('SELECT count(*) AS n FROM timescaledb_information.jobs');
    // TimescaleDB 2.22 refuses a second refresh policy on a hierarchical continuous aggregate even
    // with if_not_exists (its #8707, fixed in 2.23.1 by #8879): 004 cannot run twice there.
    const { version } = (await rows<{ version: string }>(`SELECT extversion AS version FROM pg_extension WHERE extname = 'timescaledb'`))[0]!;
    const [major, minor, patch] = version.split('.').map(Number) as [number, number, number];
    const refusesHierarchical = major * 10_000 + minor * 100 + patch < 2_23_01;
    const { loadMigrations } = await import('../../ops/lib/migrations/files.js');
    for (const file of (await loadMigrations()).filter((f) => f.version >= 4)) {
      await t.client.query('BEGIN');
      const error = await t.client.query(file.sql).then(() => undefined, (e: Error) => e);
      await t.client.query(error ? 'ROLLBACK' : 'COMMIT');
      if (file.version === 4 && refusesHierarchical) expect(error?.message).toBe('multiple refresh policies are not supported for hierarchical continuous aggregates');
      else expect(error, file.fileName).toBeUndefined();
    }
    expect(await rows('SELECT count(*) AS n FROM timescaledb_information.jobs')).toEqual(before);
  });
});

describe.skipIf(unavailable)('integrity rules', () => {
  it('stores only strong password hashes', async () => {
    const insert = (hash: string) => sqlState(t.client, `INSERT INTO users (username, password_hash) VALUES ('someone', $1)`, [hash]);
    expect(await insert(await hashPassword('correct horse battery staple'))).toBe('ok');
    expect(await insert('$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$' + 'A'.repeat(43))).toBe('ok');
    expect(await insert('$2b$12$' + 'a'.repeat(53))).toBe('ok');
    for (const weak of ['hunter2', '5f4dcc3b5aa765d61d8327deb882cf99', '$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA==$' + 'A'.repeat(43) + '=', '$2b$04$' + 'a'.repeat(53), '$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$' + 'A'.repeat(43)]) {
      expect(await insert(weak), weak).toBe('23514'); // check_violation
    }
  });

  it('stores API tokens only as 32-byte hashes, unique', async () => {
    await t.client.query(`INSERT INTO users (username, password_hash) VALUES ('tokenowner', $1)`, [await hashPassword('a long enough password')]);
    const insert = (hash: Buffer) => sqlState(t.client, `INSERT INTO api_tokens (user_id, name, token_hash, token_prefix) SELECT user_id, 'ci', $1, 'alt_abcd' FROM users WHERE username = 'tokenowner'`, [hash]);
    expect(await insert(Buffer.alloc(32, 1))).toBe('ok');
    expect(await insert(Buffer.from('plain-token-in-clear'))).toBe('23514');
    expect(await insert(Buffer.alloc(31, 1))).toBe('23514');
  });

  it('allows one open alert per device and type, and only consistent acknowledgements', async () => {
    await t.client.query(`INSERT INTO devices (device_id, name, device_type) VALUES ('alert-dev', 'Alert test', 'smart_plug')`);
    const raise = `INSERT INTO alerts (device_id, alert_type, severity, message) VALUES ('alert-dev', 'offline', 'warning', 'no data for 10 minutes')`;
    await t.client.query(raise);
    expect(await sqlState(t.client, raise)).toBe('23505');
    expect(await sqlState(t.client, `UPDATE alerts SET acknowledged_by = NULL, acknowledged_at = triggered_at - interval '1 minute'`)).toBe('23514');
    await t.client.query(`DELETE FROM alerts; DELETE FROM devices WHERE device_id = 'alert-dev'`);
  });

  it('rejects readings that no meter can produce', async () => {
    await t.client.query(`INSERT INTO devices (device_id, name, device_type) VALUES ('meter-dev', 'Meter test', 'smart_plug')`);
    const reading = (cols: string) => sqlState(t.client, `INSERT INTO metrics (time, device_id, power_deciwatts, ${cols.split('=')[0]}) VALUES (now(), 'meter-dev', 100, ${cols.split('=')[1]})`);
    expect(await reading('voltage_decivolts=1213')).toBe('ok');
    expect(await reading('power_factor_percent=150')).toBe('23514');
    expect(await reading('frequency_centihertz=0')).toBe('23514');
    expect(await reading('state=\'exploded\'')).toBe('23514');
    expect(await sqlState(t.client, `INSERT INTO metrics (time, device_id, power_deciwatts) VALUES (now(), 'no-such-device', 10)`)).toBe('23503');
  });

  it('store meter units and show them in SI units through metrics_si, exactly as typed', async () => {
    await t.client.query(`INSERT INTO devices (device_id, name, device_type) VALUES ('si-dev', 'SI test', 'smart_plug')`);
    await t.client.query(`INSERT INTO metrics (time, device_id, power_deciwatts, energy_milliwatt_hours, voltage_decivolts, current_milliamps, power_factor_percent, frequency_centihertz, temperature_decicelsius, state)
                          VALUES ('2024-06-01 12:00Z', 'si-dev', 2301, 38350, 1213, 1897, 97, 5998, -15, 'on')`);
    expect(await rows(`SELECT power_w, energy_wh, voltage_v, current_a, power_factor, frequency_hz, temperature_c, state FROM metrics_si WHERE device_id = 'si-dev'`)).toEqual([
      { power_w: 230.1, energy_wh: 38.35, voltage_v: 121.3, current_a: 1.897, power_factor: 0.97, frequency_hz: 59.98, temperature_c: -1.5, state: 'on' },
    ]);
    // A plain view: the device and time filters still reach the hypertable's unique index (the
    // planner would rightly scan a one-row chunk, so sequential scans are ruled out to show it).
    await t.client.query('SET enable_seqscan = off');
    const plan = await rows<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT * FROM metrics_si WHERE device_id = 'si-dev' AND time > '2024-06-01'`);
    await t.client.query('RESET enable_seqscan');
    expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/idx_metrics_device_time|_hyper_\d+_\d+_chunk_idx_metrics_device_time/);
    await t.client.query(`DELETE FROM metrics WHERE device_id = 'si-dev'; DELETE FROM devices WHERE device_id = 'si-dev'`);
  });

  it('make metrics_si read-only for every role', async () => {
    const writers = await rows(
      `SELECT rolname FROM pg_roles WHERE rolname LIKE 'aetherlens\\_%' AND (has_table_privilege(rolname, 'metrics_si', 'INSERT, UPDATE, DELETE, TRUNCATE') OR NOT has_table_privilege(rolname, 'metrics_si', 'SELECT'))`,
    );
    expect(writers).toEqual([]);
  });
});

describe.skipIf(unavailable)('roles', () => {
  it('are NOLOGIN group roles', async () => {
    expect(await rows(`SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname LIKE 'aetherlens\\_%' ORDER BY 1`)).toEqual(
      ['aetherlens_app', 'aetherlens_backup', 'aetherlens_readonly'].map((rolname) => ({ rolname, rolcanlogin: false, rolsuper: false, rolcreaterole: false, rolcreatedb: false })),
    );
  });

  it('let the application read and write its tables, but not change the schema', async () => {
    await asRole(t.client, 'aetherlens_app', async () => {
      expect(await sqlState(t.client, `INSERT INTO plugins (plugin_id, name, version) VALUES ('app-test', 'App test', '1.0.0')`)).toBe('ok');
      expect(await sqlState(t.client, `INSERT INTO users (username, password_hash) VALUES ('appuser', $1)`, [await hashPassword('app-made password')])).toBe('ok');
      expect(await sqlState(t.client, 'SELECT * FROM metrics_hourly LIMIT 1')).toBe('ok');
      expect(await sqlState(t.client, 'CREATE TABLE sneaky (id int)')).toBe('42501');
      expect(await sqlState(t.client, 'ALTER TABLE devices ADD COLUMN sneaky int')).toBe('42501');
      expect(await sqlState(t.client, 'DROP TABLE alerts')).toBe('42501');
      expect(await sqlState(t.client, 'DELETE FROM migration_history')).not.toBe('ok');
    });
  });

  it('give nobody write access to the aggregates', async () => {
    const writers = await rows(
      `SELECT r.rolname, c.view_name FROM pg_roles r CROSS JOIN timescaledb_information.continuous_aggregates c
       WHERE r.rolname LIKE 'aetherlens\\_%' AND (has_table_privilege(r.rolname, format('%I', c.view_name), 'INSERT, UPDATE, DELETE, TRUNCATE')
          OR NOT has_table_privilege(r.rolname, format('%I', c.view_name), 'SELECT'))`,
    );
    expect(writers).toEqual([]);
  });

  it('let read-only users read, but never password or token hashes', async () => {
    await asRole(t.client, 'aetherlens_readonly', async () => {
      expect(await sqlState(t.client, 'SELECT username, role FROM users')).toBe('ok');
      expect(await sqlState(t.client, 'SELECT token_prefix FROM api_tokens')).toBe('ok');
      expect(await sqlState(t.client, 'SELECT * FROM metrics_daily')).toBe('ok');
      expect(await sqlState(t.client, 'SELECT password_hash FROM users')).toBe('42501');
      expect(await sqlState(t.client, 'SELECT token_hash FROM api_tokens')).toBe('42501');
      expect(await sqlState(t.client, `UPDATE devices SET name = 'x'`)).toBe('42501');
    });
  });
});
