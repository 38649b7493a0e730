import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { OpsError } from '../errors.js';
import { acquireLock, isProcessAlive, lockHolder, ownerPath, type LockOwner } from '../fileLock.js';
import { openEmbeddedEngine, type EmbeddedEngine } from './engine.js';
import { embeddedPaths } from './layout.js';
import { describeServeOwner } from './owner.js';
import { ensurePasswordFile } from './password.js';

/** The port `local serve` uses unless told otherwise: clear of a system PostgreSQL on 5432. */
export const DEFAULT_SERVE_PORT = 15432;

export interface ServedDatabase {
  engine: EmbeddedEngine;
  /** A psql command line that connects; it asks for the password in `passwordFile`. */
  psql: string;
  /** The file with the password the server requires (0600, in the data directory). */
  passwordFile: string;
  /** The psql line with the password read from that file into PGPASSWORD. */
  psqlWithPassword: string;
  stop(): Promise<void>;
}

/** Shell single quotes, for the commands we print. */
const sh = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

/** How to hand psql the served engine's password without typing it. */
function passwordEnv(passwordFile: string): string {
  return `PGPASSWORD="$(cat ${sh(passwordFile)})"`;
}

/**
 * Opens the embedded database and keeps it served on 127.0.0.1:port until stop(). Clients log in
 * as postgres with SCRAM-SHA-256 and the password made on the first start (the data directory's
 * `password` file, 0600). The data directory's lock records the pid and port, so a second serve
 * (or any other process) is refused with a message naming this one, and commands can reach it
 * through the port.
 */
export async function serveEmbedded(options: { dataDir: string; port?: number }): Promise<ServedDatabase> {
  const port = options.port ?? DEFAULT_SERVE_PORT;
  const paths = embeddedPaths(options.dataDir);
  const lock = await acquireLock(paths.lock, { command: 'aetherlens-db local serve', details: { port }, describe: describeServeOwner(paths.root) });
  let engine: EmbeddedEngine;
  try {
    const password = await ensurePasswordFile(paths.password);
    engine = await openEmbeddedEngine({ dataDir: paths.root, listen: { kind: 'tcp', host: '127.0.0.1', port, password } });
  } catch (error) {
    await lock.release();
    throw error;
  }
  const psql = `psql "postgres://postgres@127.0.0.1:${port}/${engine.info.database}?sslmode=disable"`;
  return {
    engine,
    psql,
    passwordFile: paths.password,
    psqlWithPassword: `${passwordEnv(paths.password)} ${psql}`,
    async stop() {
      await engine.close();
      await lock.release();
    },
  };
}

export interface EmbeddedStatus {
  dataDir: string;
  exists: boolean;
  running: boolean;
  owner?: LockOwner;
  sizeBytes: number;
  /** The password `local serve` requires, once it has started here, and how to give it to psql. */
  passwordFile?: string;
  passwordEnv?: string;
}

async function directorySize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? await directorySize(path) : (await stat(path).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/** Whether the embedded database is being served, by whom, and how big it is. Reads only. */
export async function embeddedStatus(dataDir: string): Promise<EmbeddedStatus> {
  const paths = embeddedPaths(dataDir);
  const owner = await lockHolder(paths.lock);
  const sizeBytes = await directorySize(paths.pgdata);
  return {
    dataDir: paths.root,
    exists: sizeBytes > 0,
    running: owner !== undefined,
    ...(owner ? { owner } : {}),
    sizeBytes,
    ...(existsSync(paths.password) ? { passwordFile: paths.password, passwordEnv: passwordEnv(paths.password) } : {}),
  };
}

/**
 * Asks the process that holds the data directory to shut down cleanly (SIGTERM) and waits until
 * it has let go. Only the holder its owner file records is signalled: never pid 0 or below (kill
 * would reach a whole process group), never this process, never a pid on another host.
 */
export async function stopEmbedded(dataDir: string, timeoutMs = 30_000): Promise<LockOwner | undefined> {
  const paths = embeddedPaths(dataDir);
  const owner = await lockHolder(paths.lock);
  if (!owner) return undefined;
  if (!Number.isInteger(owner.pid) || owner.pid <= 0) {
    throw new OpsError('ENGINE', `the embedded database ${paths.root} is locked, but the lock does not name its holder (no ${ownerPath(paths.lock)} yet): nothing was signalled; try again in a few seconds, or find the process with: ps -ef | grep aetherlens-db`);
  }
  if (owner.host !== hostname()) {
    throw new OpsError('ENGINE', `the embedded database is held by pid ${owner.pid} on ${owner.host}, not this host: stop it there`);
  }
  if (owner.pid === process.pid) throw new OpsError('ENGINE', `the embedded database ${paths.root} is held by this process (pid ${owner.pid}): nothing was signalled`);
  if (!isProcessAlive(owner.pid)) return waitForRelease(paths.lock, owner, timeoutMs);
  try {
    process.kill(owner.pid, 'SIGTERM');
  } catch {
    throw new OpsError('ENGINE', `the embedded database is held by pid ${owner.pid} on ${owner.host}, which this user cannot signal: stop it there`);
  }
  return waitForRelease(paths.lock, owner, timeoutMs);
}

/** Waits until nobody holds the lock (a holder that died leaves it to go stale within seconds). */
async function waitForRelease(lock: string, owner: LockOwner, timeoutMs: number): Promise<LockOwner> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await lockHolder(lock))) return owner;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new OpsError('ENGINE', `pid ${owner.pid} did not stop within ${timeoutMs / 1000} s: check it, then stop it with kill`);
}
