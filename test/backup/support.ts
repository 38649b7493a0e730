import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { libpqEnv, type ConnectionInfo } from '../../ops/lib/connection.js';
import { withClient } from '../../ops/lib/pg.js';
import { CLI } from '../support/cli.js';
import { PG_BIN } from '../support/nativeCluster.js';

/** Every file under `dir` with its bytes' sha256 and mode: equal snapshots mean byte-identical. */
export async function snapshotDir(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      const mode = ((await stat(full)).mode & 0o777).toString(8);
      if (entry.isDirectory()) {
        out[`${relative(dir, full)}/`] = mode;
        await walk(full);
      } else {
        out[relative(dir, full)] = `${mode} ${createHash('sha256').update(await readFile(full)).digest('hex')}`;
      }
    }
  };
  if (existsSync(dir)) await walk(dir);
  return out;
}

/** Starts the real CLI in a child process (like runCli) and hands back the process itself. */
export function startCli(args: string[], env: Record<string, string | undefined>): ResultPromise<{ reject: false; extendEnv: false }> {
  return execa(process.execPath, [CLI, ...args], {
    reject: false,
    extendEnv: false,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    timeout: 120_000,
  }) as ResultPromise<{ reject: false; extendEnv: false }>;
}

/** Polls `check` every 20 ms until it returns a value, or fails after `ms`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Children of `pid` whose command name is `name` (from /proc). */
export async function childrenNamed(pid: number, name: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const status = await readFile(`/proc/${entry}/status`, 'utf8').catch(() => '');
    const comm = /^Name:\s+(.*)$/m.exec(status)?.[1];
    const ppid = Number(/^PPid:\s+(\d+)$/m.exec(status)?.[1]);
    if (comm === name && ppid === pid) found.push(Number(entry));
  }
  return found;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The size of the dump file inside a backup-in-progress folder of `dir`, once it exceeds `bytes`. */
export async function partialDumpOver(dir: string, bytes: number): Promise<string | undefined> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith('.partial-')) continue;
    for (const file of await readdir(join(dir, name)).catch(() => [] as string[])) {
      if (!file.endsWith('.dump')) continue;
      const size = await stat(join(dir, name, file)).then((s) => s.size, () => 0);
      if (size > bytes) return join(dir, name, file);
    }
  }
  return undefined;
}

/**
 * Restores a custom-format dump into a new database the TimescaleDB way (pre_restore, pg_restore
 * without -j, post_restore): what a drill does, reduced to what these tests need.
 */
export async function restoreInto(info: ConnectionInfo, dumpPath: string, database: string): Promise<void> {
  await withClient(info, (c) => c.query(`CREATE DATABASE "${database}"`));
  await withClient(info, async (c) => {
    await c.query('CREATE EXTENSION timescaledb');
    await c.query('SELECT timescaledb_pre_restore()');
  }, database);
  const r = await execa(join(PG_BIN, 'pg_restore'), ['--exit-on-error', '--dbname', database, dumpPath], { env: libpqEnv(info, database), reject: false });
  if (r.exitCode !== 0) throw new Error(`pg_restore failed: ${r.stderr}`);
  await withClient(info, (c) => c.query('SELECT timescaledb_post_restore()'), database);
}
