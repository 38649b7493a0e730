import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import pg from 'pg';
import { CLI, runCli } from '../support/cli.js';
import { PG_BIN, freePort } from '../support/nativeCluster.js';
import { openEmbeddedEngine } from '../../ops/lib/embedded/engine.js';
import { message, rawSession } from './rawClient.js';

const mode = async (path: string) => ((await stat(path)).mode & 0o777).toString(8);

/** Every directory and file below `dir` whose mode is not 0700 / 0600. */
async function loosePermissions(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if ((await mode(path)) !== '700') out.push(`${path} ${await mode(path)}`);
      out.push(...(await loosePermissions(path)));
    } else if (entry.isFile() && (await mode(path)) !== '600') out.push(`${path} ${await mode(path)}`);
  }
  return out;
}

describe('local serve: its password (SCRAM-SHA-256), private files, CancelRequest', () => {
  let root: string;
  let dataDir: string;
  let port: number;
  let child: ResultPromise;
  let out = '';
  let password: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-auth-'));
    dataDir = join(root, 'db');
    port = await freePort();
    child = execa(process.execPath, [CLI, 'local', 'serve', '--port', String(port)], { env: { AETHERLENS_EMBEDDED_DIR: dataDir }, reject: false });
    await new Promise<void>((ok, fail) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('stop: ')) ok();
      });
      void child.then((r) => fail(new Error(`serve exited ${r.exitCode}: ${String(r.stderr)}`)));
    });
    password = (await readFile(join(dataDir, 'password'), 'utf8')).trim();
  });

  afterAll(async () => {
    child?.kill('SIGTERM');
    await child;
    await rm(root, { recursive: true, force: true });
  });

  const pgLogin = async (pw: string | undefined) => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'template1', ...(pw === undefined ? {} : { password: pw }) });
    client.on('error', () => {});
    try {
      await client.connect();
      return (await client.query('SELECT 1 AS one')).rows;
    } catch (error) {
      return { code: (error as { code?: string }).code, message: (error as Error).message };
    } finally {
      await client.end().catch(() => {});
    }
  };

  const psql = async (env: Record<string, string>) => {
    const r = await execa(join(PG_BIN, 'psql'), ['-X', '-w', '-At', '-c', 'SELECT 1', `postgres://postgres@127.0.0.1:${port}/template1?sslmode=disable`], {
      reject: false,
      extendEnv: false,
      env: { PATH: process.env.PATH, HOME: root, ...env },
    });
    return { exitCode: r.exitCode, stdout: String(r.stdout).trim(), stderr: String(r.stderr).trim() };
  };

  test('the password is made on the first start, kept 0600 in the data directory, and named where the owner looks', async () => {
    expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const file = join(dataDir, 'password');
    expect(await mode(file)).toBe('600');
    expect(out).toContain(`connect: psql "postgres://postgres@127.0.0.1:${port}/template1?sslmode=disable"`);
    expect(out).toContain(`password: in ${file} (user postgres; only you can read it): PGPASSWORD="$(cat '${file}')" psql "postgres://postgres@127.0.0.1:${port}/template1?sslmode=disable"`);
    const status = await runCli(['local', 'status'], { AETHERLENS_EMBEDDED_DIR: dataDir });
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toContain(`password: in ${file} (user postgres; for psql: PGPASSWORD="$(cat '${file}')" psql ...)`);
    expect(JSON.parse((await runCli(['local', 'status', '--json'], { AETHERLENS_EMBEDDED_DIR: dataDir })).stdout)).toMatchObject({ running: true, passwordFile: file, head: null });
  });

  test('pg: no password and a wrong one are refused, the right one logs in', async () => {
    expect(await pgLogin(undefined)).toMatchObject({ message: expect.stringMatching(/password/) });
    expect(await pgLogin('not-the-password')).toEqual({ code: '28P01', message: 'password authentication failed for user "postgres"' });
    expect(await pgLogin(password)).toEqual([{ one: 1 }]);
  });

  test('psql: no password and a wrong one are refused, the right one logs in', async () => {
    const none = await psql({});
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('no password supplied');
    const wrong = await psql({ PGPASSWORD: 'not-the-password' });
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toContain('password authentication failed for user "postgres"');
    expect(await psql({ PGPASSWORD: password })).toMatchObject({ exitCode: 0, stdout: '1' });
  });

  test('another role name is refused: the engine would run it as the superuser', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'aetherlens_app', password, database: 'template1' });
    client.on('error', () => {});
    const error = await client.connect().then(() => undefined, (e: Error) => e.message);
    await client.end().catch(() => {});
    expect(error).toBe('role "aetherlens_app" cannot log in: the embedded engine has one role, postgres');
  });

  test('the data directory is 0700 and everything in it 0600 (directories 0700), also what the engine wrote while serving', async () => {
    expect(await pgLogin(password)).toEqual([{ one: 1 }]);
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'template1' });
    await client.connect();
    await client.query('CREATE TABLE perm_probe AS SELECT i FROM generate_series(1, 50000) i');
    await client.query('CHECKPOINT');
    await client.end();
    expect(await mode(dataDir)).toBe('700');
    expect(await loosePermissions(dataDir)).toEqual([]);
  });

  test('a CancelRequest cancels the next statement of its session that has not run; the one running finishes', async () => {
    const s = await rawSession({ host: '127.0.0.1', port }, password);
    // The engine runs a statement on the server's only thread: pg_sleep(1) cannot be interrupted.
    s.socket.write(Buffer.concat([`SELECT pg_sleep(1)`, `SELECT 'second'`, `SELECT 'third'`].map((sql) => message('Q', `${sql}\0`))));
    await new Promise((ok) => setTimeout(ok, 300));
    await s.cancel();
    expect(await s.reader.untilReady()).toMatchObject({ types: ['T', 'D', 'C', 'Z'], errors: [] });
    expect(await s.reader.untilReady()).toMatchObject({ types: ['E', 'Z'], errors: ['canceling statement due to user request'] });
    expect(await s.reader.untilReady()).toMatchObject({ types: ['T', 'D', 'C', 'Z'], errors: [] });
    // Spent: the next statement runs.
    expect(await s.query(`SELECT 'after'`)).toMatchObject({ types: ['T', 'D', 'C', 'Z'] });
    await s.end();
  });
});

describe('in-process engines open no TCP port', () => {
  test('a private Unix socket in a new 0700 directory, with a random password; both gone after close', async () => {
    const root = await mkdtemp(join(tmpdir(), 'aetherlens-socket-'));
    const engine = await openEmbeddedEngine({ dataDir: join(root, 'db') });
    try {
      const { host, port, password } = engine.info;
      expect(host.startsWith(tmpdir())).toBe(true);
      expect(await mode(host)).toBe('700');
      expect(await readdir(host)).toEqual([`.s.PGSQL.${port}`]);
      expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
      const right = new pg.Client({ host, port, user: 'postgres', password, database: 'template1' });
      await right.connect();
      expect((await right.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await right.end();
      const wrong = new pg.Client({ host, port, user: 'postgres', password: 'guess', database: 'template1' });
      wrong.on('error', () => {});
      expect(await wrong.connect().then(() => 'in', (e: Error) => e.message)).toBe('password authentication failed for user "postgres"');
      await engine.close();
      expect(await stat(host).then(() => 'still there', () => 'gone')).toBe('gone');
      expect(await mode(join(root, 'db'))).toBe('700');
    } finally {
      await engine.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
