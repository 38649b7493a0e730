import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OpsError } from '../errors.js';
import { acquireLock, lockHolder, type LockOwner } from '../fileLock.js';
import { embeddedPaths, openEmbeddedEngine, type EmbeddedEngine } from './engine.js';
import { describeServeOwner } from '../targets/embedded.js';

/** The port `local serve` uses unless told otherwise: clear of a system PostgreSQL on 5432. */
export const DEFAULT_SERVE_PORT = 15432;

export interface ServedDatabase {
  engine: EmbeddedEngine;
  /** A psql command line that connects (there is no password on the loopback-only server). */
  psql: string;
  stop(): Promise<void>;
}

/**
 * Opens the embedded database and keeps it served on 127.0.0.1:port until stop(). The data
 * directory's lock records the pid and port, so a second serve (or any other process) is
 * refused with a message naming this one, and commands can reach it through the port.
 */
export async function serveEmbedded(options: { dataDir: string; port?: number }): Promise<ServedDatabase> {
  const port = options.port ?? DEFAULT_SERVE_PORT;
  const paths = embeddedPaths(options.dataDir);
  const lock = await acquireLock(paths.lock, { command: 'aetherlens-db local serve', details: { port }, describe: describeServeOwner(paths.root) });
  let engine: EmbeddedEngine;
  try {
    engine = await openEmbeddedEngine({ dataDir: paths.root, port });
  } catch (error) {
    await lock.release();
    throw error;
  }
  return {
    engine,
    psql: `psql "postgres://postgres@127.0.0.1:${port}/${engine.info.database}?sslmode=disable"`,
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
  return { dataDir: paths.root, exists: sizeBytes > 0, running: owner !== undefined, ...(owner ? { owner } : {}), sizeBytes };
}

/** Asks the serving process to shut down cleanly (SIGTERM) and waits until it has let go. */
export async function stopEmbedded(dataDir: string, timeoutMs = 30_000): Promise<LockOwner | undefined> {
  const paths = embeddedPaths(dataDir);
  const owner = await lockHolder(paths.lock);
  if (!owner) return undefined;
  try {
    process.kill(owner.pid, 'SIGTERM');
  } catch {
    throw new OpsError('ENGINE', `the embedded database is held by pid ${owner.pid} on ${owner.host}, which this user cannot signal: stop it there`);
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await lockHolder(paths.lock))) return owner;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new OpsError('ENGINE', `pid ${owner.pid} did not stop within ${timeoutMs / 1000} s: check it, then stop it with kill`);
}
