import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtemp, mkdir, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { runCli, CLI } from '../support/cli.js';
import { freePort } from '../support/nativeCluster.js';

/** Starts `local serve` in a child process and resolves once it prints its psql line. */
async function serve(dataDir: string, port: number) {
  const child = execa(process.execPath, [CLI, 'local', 'serve', '--port', String(port)], {
    env: { AETHERLENS_EMBEDDED_DIR: dataDir },
    reject: false,
  });
  let out = '';
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`serve did not start: ${out}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('connect: psql')) {
        clearTimeout(timer);
        ok();
      }
    });
    void child.then((r) => fail(new Error(`serve exited ${r.exitCode}: ${r.stderr}`)));
  });
  password = (await readFile(join(dataDir, 'password'), 'utf8')).trim();
  return { child, out: () => out };
}

/** The served engine's URL, with the password `local serve` keeps in the data directory. */
const url = (port: number) => `postgres://postgres:${password}@127.0.0.1:${port}/template1`;
let password = '';

describe('the embedded target: migrate, serve, persistence, faults', () => {
  let root: string;
  let dataDir: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-embedded-'));
    dataDir = join(root, 'db');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('the default target migrates to head and the inventory shows everything the migrations promise', async () => {
    const migrate = await runCli(['migrate', '--json'], { AETHERLENS_EMBEDDED_DIR: dataDir });
    expect(migrate.stderr).toContain('applied 006_retention_policies.sql');
    expect(JSON.parse(migrate.stdout)).toMatchObject({ head: 6, edition: 'timescale' });
    const inv = await runCli(['inventory', '--json'], { AETHERLENS_EMBEDDED_DIR: dataDir });
    expect(inv.exitCode).toBe(0);
    const report = JSON.parse(inv.stdout);
    expect(report).toMatchObject({ edition: 'timescale', migrationHead: 6, ok: true });
    expect(report.tables.present).toHaveLength(7);
    expect(report.tables.expected).toHaveLength(7);
    expect(report.hypertables.chunkIntervals).toEqual({ metrics: '7 days', cost_calculations: '7 days' });
    expect(report.indexes).toMatchObject({ valid: 31, invalid: [] });
    expect(report.indexes.expected).toHaveLength(31);
    expect(report.continuousAggregates.present.sort()).toEqual(['cost_daily', 'cost_hourly', 'metrics_daily', 'metrics_hourly']);
    expect(report.views).toMatchObject({ present: ['metrics_si'], ok: true });
    const procs = report.policies.jobs.map((j: { proc: string; relation: string }) => `${j.proc}:${j.relation}`).sort();
    expect(procs).toEqual([
      'policy_compression:cost_calculations',
      'policy_compression:metrics',
      'policy_refresh_continuous_aggregate:cost_daily',
      'policy_refresh_continuous_aggregate:cost_hourly',
      'policy_refresh_continuous_aggregate:metrics_daily',
      'policy_refresh_continuous_aggregate:metrics_hourly',
      'policy_retention:cost_calculations',
      'policy_retention:cost_daily',
      'policy_retention:cost_hourly',
      'policy_retention:metrics',
      'policy_retention:metrics_daily',
      'policy_retention:metrics_hourly',
    ]);
  });

  test('serve: one server per data directory, commands reach it over the wire, compressed chunks survive a restart', async () => {
    const port = await freePort();
    const first = await serve(dataDir, port);
    try {
      expect(first.out()).toContain(`connect: psql "postgres://postgres@127.0.0.1:${port}/template1?sslmode=disable"`);
      const second = await runCli(['local', 'serve', '--port', String(await freePort())], { AETHERLENS_EMBEDDED_DIR: dataDir });
      expect(second.exitCode).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`^error: the embedded database ${dataDir} is already open by pid ${first.child.pid} on .* \\(aetherlens-db local serve, since .*, serving 127\\.0\\.0\\.1:${port}\\): stop it first \\(aetherlens-db local stop\\) or use that server$`));
      const status = JSON.parse((await runCli(['local', 'status', '--json'], { AETHERLENS_EMBEDDED_DIR: dataDir })).stdout);
      expect(status).toMatchObject({ running: true, head: 6, owner: { pid: first.child.pid, port } });
      // The same server through the server target (DATABASE_URL): the community edition as production has it.
      const inv = JSON.parse((await runCli(['inventory', '--json'], { DATABASE_URL: url(port) })).stdout);
      expect(inv).toMatchObject({ ok: true, edition: 'timescale' });

      const client = new pg.Client({ connectionString: url(port) });
      await client.connect();
      await client.query(`INSERT INTO devices (device_id, name, device_type) VALUES ('probe-1', 'Probe', 'smart_plug')`);
      const device = { id: 'probe-1' };
      await client.query(`INSERT INTO metrics (time, device_id, power_deciwatts) SELECT t, $1, 1000 + (extract(epoch FROM t)::bigint % 70) FROM generate_series(now() - interval '40 days', now() - interval '1 hour', interval '10 minutes') t`, [device.id]);
      await client.end();
      const jobs = await runCli(['jobs', 'run', '--json'], { DATABASE_URL: url(port) });
      expect(jobs.exitCode).toBe(0);
    } finally {
      first.child.kill('SIGINT');
      const result = await first.child;
      expect(result.stderr).toContain('stopped on SIGINT');
    }
    // Reopened in-process by another command: the compressed chunks are still read.
    const check = await runCli(['jobs', 'run', '--json'], { AETHERLENS_EMBEDDED_DIR: dataDir });
    expect(check.exitCode).toBe(0);
    const reopened = await serve(dataDir, port);
    try {
      const client = new pg.Client({ connectionString: url(port) });
      await client.connect();
      const { rows } = await client.query<{ compressed: string; rows: string }>(
        `SELECT (SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'metrics' AND is_compressed) AS compressed,
                (SELECT count(*) FROM metrics) AS rows`);
      await client.end();
      expect(Number(rows[0]!.compressed)).toBeGreaterThanOrEqual(3);
      expect(Number(rows[0]!.rows)).toBe(Math.floor((40 * 24 * 60 - 60) / 10) + 1);
    } finally {
      reopened.child.kill('SIGTERM');
      await reopened.child;
    }
  });

  test('kill -9 during serve: the next open finds the data intact', async () => {
    const port = await freePort();
    const first = await serve(dataDir, port);
    first.child.kill('SIGKILL');
    await first.child;
    // The dead holder's lock goes stale within seconds and is taken over.
    const inv = await runCli(['inventory', '--json'], { AETHERLENS_EMBEDDED_DIR: dataDir });
    expect(inv.stderr).toBe('');
    expect(JSON.parse(inv.stdout)).toMatchObject({ ok: true, migrationHead: 6 });
  });

  test('a second client waits for the first and never sees its results', async () => {
    const port = await freePort();
    const server = await serve(dataDir, port);
    try {
      const a = new pg.Client({ connectionString: url(port) });
      await a.connect();
      await a.query(`SET application_name = 'client-a'`);
      const b = new pg.Client({ connectionString: url(port) });
      const bConnected = b.connect();
      const bAnswer = bConnected.then(() => b.query<{ v: string }>(`SELECT 'from-b' AS v`));
      const aAnswer = await a.query<{ v: string }>(`SELECT 'from-a' AS v`);
      expect(aAnswer.rows).toEqual([{ v: 'from-a' }]);
      await a.end();
      expect((await bAnswer).rows).toEqual([{ v: 'from-b' }]);
      await b.end();
    } finally {
      server.child.kill('SIGTERM');
      await server.child;
    }
  });

  test('a port already in use is named', async () => {
    const busy = createServer();
    await new Promise<void>((ok) => busy.listen(0, '127.0.0.1', ok));
    const port = (busy.address() as { port: number }).port;
    try {
      const result = await runCli(['local', 'serve', '--port', String(port)], { AETHERLENS_EMBEDDED_DIR: dataDir });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toBe(`error: port ${port} on 127.0.0.1 is already in use: stop what uses it or choose another with --port`);
    } finally {
      busy.close();
    }
  });

  test('a data directory from another PostgreSQL version is refused and left untouched', async () => {
    const foreign = join(root, 'pg16');
    await mkdir(join(foreign, 'pgdata', 'global'), { recursive: true });
    await mkdir(join(foreign, 'pgdata', 'base'));
    await writeFile(join(foreign, 'pgdata', 'PG_VERSION'), '16\n');
    await writeFile(join(foreign, 'pgdata', 'global', 'pg_control'), 'not ours');
    const result = await runCli(['migrate'], { AETHERLENS_EMBEDDED_DIR: foreign });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(`error: the embedded data directory ${join(foreign, 'pgdata')} was made by PostgreSQL 16, this engine runs PostgreSQL 17: use the matching aetherlens-db version, or dump and restore it; it was not modified`);
    expect(await readFile(join(foreign, 'pgdata', 'global', 'pg_control'), 'utf8')).toBe('not ours');
    expect((await readdir(join(foreign, 'pgdata'))).sort()).toEqual(['PG_VERSION', 'base', 'global']);
  });

  test('a truncated data directory is refused and left untouched', async () => {
    const broken = join(root, 'broken');
    await mkdir(join(broken, 'pgdata', 'base'), { recursive: true });
    await writeFile(join(broken, 'pgdata', 'PG_VERSION'), '17\n');
    const result = await runCli(['status'], { AETHERLENS_EMBEDDED_DIR: broken });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(`error: the embedded data directory ${join(broken, 'pgdata')} is incomplete or corrupted (no PG_VERSION, global/pg_control or base/): restore it from a backup, or move it away to start fresh; it was not modified`);
    expect((await readdir(join(broken, 'pgdata'))).sort()).toEqual(['PG_VERSION', 'base']);
  });
});

