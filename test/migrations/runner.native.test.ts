import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startNativeCluster, nativeUnavailableReason, type NativeCluster } from '../support/nativeCluster.js';
import { runCli } from '../support/cli.js';
import { migrationsFixture, writeMigration } from '../support/migrationsFixture.js';
import { APACHE_EDITION, serverTimescale } from '../support/timescale.js';
import { connectionUrl } from '../../ops/lib/connection.js';
import { withClient } from '../../ops/lib/pg.js';

const unavailable = nativeUnavailableReason();
if (unavailable) console.warn(`skipping native runner tests: ${unavailable}`);

const BASE = {
  '001_core.sql': `-- core tables\nCREATE TABLE devices (id text PRIMARY KEY, name text NOT NULL);\nCREATE TABLE readings (time timestamptz NOT NULL, device_id text REFERENCES devices(id), watts double precision);\n`,
  '002_hyper.sql': `SELECT create_hypertable('readings', 'time', chunk_time_interval => INTERVAL '7 days');\nCREATE INDEX idx_readings_device_time ON readings (device_id, time DESC);\n`,
};

describe.skipIf(unavailable)('migration runner on a native PostgreSQL 15 + TimescaleDB', () => {
  let cluster: NativeCluster;
  let dbCounter = 0;
  beforeAll(async () => {
    cluster = await startNativeCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  /** A fresh empty database on the shared cluster. */
  async function freshDatabase(): Promise<string> {
    const name = `t${++dbCounter}`;
    await withClient(cluster.info, (c) => c.query(`CREATE DATABASE ${name}`));
    return connectionUrl(cluster.info, name);
  }
  const tables = (url: string) =>
    withClient({ ...cluster.info, database: new URL(url).pathname.slice(1) }, async (c) =>
      (await c.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).rows.map((r) => r.t));

  test('applies files in order, records the ledger, and a second run changes nothing', async () => {
    const dir = await migrationsFixture(BASE);
    const url = await freshDatabase();
    const first = await runCli(['migrate', '--migrations-dir', dir, '--json'], { DATABASE_URL: url });
    expect(first.stderr).toContain('applied 001_core.sql');
    expect(first.exitCode).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ head: 2, headBefore: null, applied: [{ version: 1 }, { version: 2 }] });
    const again = await runCli(['migrate', '--migrations-dir', dir, '--json'], { DATABASE_URL: url });
    expect(JSON.parse(again.stdout)).toMatchObject({ head: 2, applied: [] });
    const status = JSON.parse((await runCli(['status', '--migrations-dir', dir, '--json'], { DATABASE_URL: url })).stdout);
    expect(status.migrations.map((m: { state: string }) => m.state)).toEqual(['applied', 'applied']);
    expect(status.edition).toBe((await serverTimescale(cluster.info)).edition);
    expect(await tables(url)).toEqual(['devices', 'migration_history', 'readings']);
  });

  test('--dry-run shows the plan and changes nothing; --to stops at a version', async () => {
    const dir = await migrationsFixture(BASE);
    const url = await freshDatabase();
    const dry = await runCli(['migrate', '--migrations-dir', dir, '--dry-run'], { DATABASE_URL: url });
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toContain('would apply 2 migration(s)');
    expect(await tables(url)).toEqual([]);
    const to = await runCli(['migrate', '--migrations-dir', dir, '--to', '1', '--json'], { DATABASE_URL: url });
    expect(JSON.parse(to.stdout).head).toBe(1);
    const unknown = await runCli(['migrate', '--migrations-dir', dir, '--to', '9'], { DATABASE_URL: url });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('--to 9 is not a migration version: choose one of 1, 2');
  });

  test('an applied file that was edited is drift: refused, file named, nothing changed', async () => {
    const dir = await migrationsFixture(BASE);
    const url = await freshDatabase();
    await runCli(['migrate', '--migrations-dir', dir], { DATABASE_URL: url });
    await writeMigration(dir, '001_core.sql', `${BASE['001_core.sql']}-- an innocent edit\n`);
    await writeMigration(dir, '003_more.sql', 'CREATE TABLE later (id int);\n');
    const result = await runCli(['migrate', '--migrations-dir', dir], { DATABASE_URL: url });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/^error: migration 001_core\.sql was changed after it was applied \(checksum [0-9a-f]{12}… in the ledger, [0-9a-f]{12}… on disk\): restore the original file and put the change in a new migration$/);
    expect(await tables(url)).not.toContain('later');
    const status = await runCli(['status', '--migrations-dir', dir, '--json'], { DATABASE_URL: url });
    expect(status.exitCode).toBe(1);
    expect(JSON.parse(status.stdout).migrations[0].state).toBe('drifted');
  });

  test('a new file numbered below the applied head is refused', async () => {
    const dir = await migrationsFixture({ '001_core.sql': BASE['001_core.sql'], '005_late.sql': 'CREATE TABLE late (id int);\n' });
    const url = await freshDatabase();
    await runCli(['migrate', '--migrations-dir', dir], { DATABASE_URL: url });
    await writeMigration(dir, '003_forgotten.sql', 'CREATE TABLE forgotten (id int);\n');
    const result = await runCli(['migrate', '--migrations-dir', dir], { DATABASE_URL: url });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('error: migration 003_forgotten.sql is numbered below the applied head 5: migrations are applied in order, so renumber it above 5 and run again');
    expect(await tables(url)).not.toContain('forgotten');
  });

  test('a syntax error names the file and line and applies nothing from that file', async () => {
    const dir = await migrationsFixture({
      ...BASE,
      '003_broken.sql': `-- a table, then a typo\nCREATE TABLE good_one (id int);\n\nCREATE TABLE bad_one (\n  id int,\n  name txet NOT NUL\n);\n`,
    });
    const url = await freshDatabase();
    const result = await runCli(['migrate', '--migrations-dir', dir], { DATABASE_URL: url });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('error: migration 003_broken.sql has a syntax error at line 6');
    expect(result.stderr).toContain('nothing was applied');
    // Files are parsed before anything runs, so not even 001/002 were applied.
    expect(await tables(url)).toEqual([]);
  });

  test('a runtime error inside a transactional file rolls the whole file back, with file and line', async () => {
    const dir = await migrationsFixture({
      ...BASE,
      '003_runtime.sql': `CREATE TABLE half (id int);\nINSERT INTO half VALUES (1);\nINSERT INTO no_such_table VALUES (1);\n`,
    });
    const url = await freshDatabase();
    const result = await runCli(['migrate', '--migrations-dir', dir], { DATABASE_URL: url });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('error: migration 003_runtime.sql failed at line 3: relation "no_such_table" does not exist; nothing from this file was applied');
    expect(result.stderr).toContain('    INSERT INTO no_such_table VALUES (1);\n                ^');
    expect(await tables(url)).toEqual(['devices', 'migration_history', 'readings']);
    const status = JSON.parse((await runCli(['status', '--migrations-dir', dir, '--json'], { DATABASE_URL: url })).stdout);
    expect(status.head).toBe(2);
  });

  test('community-only migrations run on the community edition', async () => {
    const dir = await migrationsFixture({
      ...BASE,
      '003_compression.sql': `-- requires: community\nALTER TABLE readings SET (timescaledb.compress);\n`,
    });
    const url = await freshDatabase();
    const result = await runCli(['migrate', '--migrations-dir', dir, '--json'], { DATABASE_URL: url });
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ head: 3, applied: [{ version: 1 }, { version: 2 }, { version: 3 }] });
    const compressed = await withClient({ ...cluster.info, database: new URL(url).pathname.slice(1) }, async (c) =>
      (await c.query(`SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_name = 'readings'`)).rows);
    expect(compressed).toEqual([{ compression_enabled: true }]);
  });

  test('community-only migrations are refused on the Apache edition before anything changes', async () => {
    const apache = await startNativeCluster({ settings: APACHE_EDITION });
    try {
      const dir = await migrationsFixture({
        ...BASE,
        '003_compression.sql': `-- requires: community\nALTER TABLE readings SET (timescaledb.compress);\n`,
      });
      const result = await runCli(['migrate', '--migrations-dir', dir], { DATABASE_URL: apache.url });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toBe('error: migration 003_compression.sql needs the TimescaleDB community edition (compression, continuous aggregates, policies), but this server runs the Apache-2 edition (timescaledb.license = apache): use the timescale/timescaledb:2.22.1-pg15 image or Timescale\'s timescaledb-2-postgresql-15 package; nothing was changed');
      const publicTables = () => withClient(apache.info, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`)).rows[0].n);
      expect(await publicTables()).toBe(0);
      const partial = await runCli(['migrate', '--migrations-dir', dir, '--to', '2'], { DATABASE_URL: apache.url });
      expect(partial.exitCode).toBe(0);
      expect(await publicTables()).toBe(3);
    } finally {
      await apache.stop();
    }
  });

  test('5 concurrent migrate runs on an empty database: each file applied once, every run exits 0', async () => {
    const dir = await migrationsFixture(BASE);
    const url = await freshDatabase();
    const runs = await Promise.all(Array.from({ length: 5 }, () => runCli(['migrate', '--migrations-dir', dir, '--json'], { DATABASE_URL: url })));
    expect(runs.map((r) => r.exitCode)).toEqual([0, 0, 0, 0, 0]);
    const appliedCounts = runs.map((r) => JSON.parse(r.stdout).applied.length as number);
    expect(appliedCounts.reduce((a, b) => a + b, 0)).toBe(2);
    const ledger = await withClient({ ...cluster.info, database: new URL(url).pathname.slice(1) }, async (c) => (await c.query('SELECT version FROM migration_history ORDER BY 1')).rows);
    expect(ledger).toEqual([{ version: 1 }, { version: 2 }]);
  });

  test('a database built by hand is refused until adopted; adopt checks what exists', async () => {
    const dir = await migrationsFixture(BASE);
    const url = await freshDatabase();
    const database = new URL(url).pathname.slice(1);
    await withClient({ ...cluster.info, database }, async (c) => {
      await c.query('CREATE EXTENSION timescaledb');
      await c.query(BASE['001_core.sql']);
    });
    const refused = await runCli(['migrate', '--migrations-dir', dir], { DATABASE_URL: url });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('no migration ledger (built by the hand-run scripts?): run `aetherlens-db adopt --to VERSION`');
    const tooFar = await runCli(['adopt', '--to', '2', '--migrations-dir', dir], { DATABASE_URL: url });
    expect(tooFar.exitCode).toBe(1);
    expect(tooFar.stderr).toContain('cannot adopt up to 2: missing idx_readings_device_time (002_hyper.sql)');
    const adopted = await runCli(['adopt', '--to', '1', '--migrations-dir', dir], { DATABASE_URL: url });
    expect(adopted.exitCode).toBe(0);
    const rest = await runCli(['migrate', '--migrations-dir', dir, '--json'], { DATABASE_URL: url });
    expect(JSON.parse(rest.stdout)).toMatchObject({ headBefore: 1, head: 2 });
  });

  test('wrong password: one line, exit 1, no password printed', async () => {
    const url = connectionUrl({ ...cluster.info, password: 'not-the-password' });
    const result = await runCli(['status'], { DATABASE_URL: url });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(`error: authentication failed for user "postgres" at postgres://postgres:***@127.0.0.1:${cluster.port}/aetherlens: check the password in DATABASE_URL (or PGPASSWORD)`);
  });

  test('a server without TimescaleDB loaded is refused with what to do', async () => {
    const plain = await startNativeCluster({ settings: { shared_preload_libraries: "''" } });
    try {
      const result = await runCli(['migrate'], { DATABASE_URL: plain.url });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toBe("error: TimescaleDB is installed but not loaded: add shared_preload_libraries = 'timescaledb' to postgresql.conf and restart the server");
    } finally {
      await plain.stop();
    }
  });
});

describe('connection problems, before any server is involved', () => {
  test('a host that never answers fails within 10 s with one line', async () => {
    // A loopback listener that accepts and then stays silent, like a firewalled or hung server.
    const silent = createServer(() => {});
    await new Promise<void>((ok) => silent.listen(0, '127.0.0.1', ok));
    const port = (silent.address() as { port: number }).port;
    try {
      const started = Date.now();
      const result = await runCli(['status'], { DATABASE_URL: `postgres://u:pw@127.0.0.1:${port}/db` });
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toBe(`error: no answer from 127.0.0.1:${port} within 10 s: check the host, port and firewall`);
    } finally {
      silent.close();
    }
  });

  test('a closed port fails at once with one line', async () => {
    const result = await runCli(['status'], { DATABASE_URL: 'postgres://u:pw@127.0.0.1:1/db' });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe('error: nothing is listening at 127.0.0.1:1: start the server or fix the host/port in DATABASE_URL');
  });

  test('a malformed DATABASE_URL is a configuration error that never prints the password', async () => {
    const result = await runCli(['status'], { DATABASE_URL: 'postgres://admin:s3cr3t-pass@db.example:notaport/x' });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe('error: DATABASE_URL is not a valid URL: expected postgres://USER:PASSWORD@HOST:PORT/DATABASE');
    expect(result.stderr).not.toContain('s3cr3t');
  });
});
