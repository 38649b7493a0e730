// A new data directory starts from the cluster the first one left (initdb and CREATE EXTENSION
// timescaledb, nothing else), instead of running both again.
import { mkdtemp, readdir, readFile, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { clusterTemplatePath } from '../../ops/lib/embedded/clusterTemplate.js';
import { openEmbeddedEngine } from '../../ops/lib/embedded/engine.js';
import { runCli } from '../support/cli.js';

const identity = async (dataDir: string) => {
  const engine = await openEmbeddedEngine({ dataDir });
  try {
    const system = (await engine.db.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0]!.id;
    const tables = (await engine.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace`)).rows[0]!.n;
    const extension = (await engine.db.query<{ v: string }>(`SELECT extversion AS v FROM pg_extension WHERE extname = 'timescaledb'`)).rows[0]?.v;
    await engine.db.exec('CREATE TABLE mine (id int)');
    return { system, tables, extension };
  } finally {
    await engine.close();
  }
};

describe('the cluster template', () => {
  let root: string;
  let home: string | undefined;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-template-'));
    // Only this process's: the template lives in the user's ~/.cache.
    home = process.env.HOME;
    process.env.HOME = root;
  });
  afterAll(async () => {
    process.env.HOME = home;
    await rm(root, { recursive: true, force: true });
  });

  test('the first new cluster is kept (files 0600 in 0700 folders); the next starts from it, untouched by what the first did since', async () => {
    const first = await identity(join(root, 'a'));
    const path = clusterTemplatePath();
    expect(path.startsWith(join(root, '.cache', 'aetherlens-db'))).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o700);
    expect((await stat(join(path, 'global', 'pg_control'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(path, '..'))).mode & 0o777).toBe(0o700);
    const second = await identity(join(root, 'b'));
    // initdb gives each cluster its own identifier: the same one means the template was unpacked.
    expect(second).toEqual({ system: first.system, tables: 0, extension: first.extension });
  });

  test('a damaged template is dropped, the cluster made by initdb, and a good template kept in its place', async () => {
    const control = join(clusterTemplatePath(), 'global', 'pg_control');
    await truncate(control, 100);
    const made = await identity(join(root, 'c'));
    expect(made.tables).toBe(0);
    expect(made.extension).toMatch(/^2\./);
    expect((await readFile(control)).length).toBeGreaterThan(100);
    const next = await identity(join(root, 'd'));
    expect(next.system).toBe(made.system);
  });

  test('`local prepare` (what npm install runs) makes the template before any database exists, and leaves one that is there', async () => {
    const home = join(root, 'fresh-home');
    const made = await runCli(['local', 'prepare'], { HOME: home });
    expect(made.stderr).toBe('');
    expect(made.exitCode).toBe(0);
    const path = join(home, '.cache', 'aetherlens-db');
    expect(made.stdout).toContain(`made the embedded cluster template ${path}`);
    const [template] = await readdir(path);
    const control = await stat(join(path, template!, 'global', 'pg_control'));
    expect(control.mode & 0o777).toBe(0o600);
    expect((await readdir(join(path, template!, 'base'))).length).toBeGreaterThanOrEqual(3);
    const again = await runCli(['local', 'prepare'], { HOME: home });
    expect(again.stdout).toContain('already there');
    expect((await stat(join(path, template!, 'global', 'pg_control'))).mtimeMs).toBe(control.mtimeMs);
  });
});
