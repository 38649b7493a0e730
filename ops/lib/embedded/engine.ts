import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { EngineError, EngineThread } from './engineThread.js';
import { ENGINE_USER, WireServer } from './wire.js';
import { checkDataDir, embeddedPaths, ENGINE_ID, ENGINE_PG_MAJOR, type EngineStamp } from './layout.js';
import { randomPassword } from './password.js';
import { clusterTemplatePath, copyClusterTemplate, dropClusterTemplate, hasClusterTemplate, saveClusterTemplate } from './clusterTemplate.js';
import { OpsError } from '../errors.js';
import type { ConnectionInfo } from '../connection.js';

/** A client that finds the single connection busy waits this long, then gets an error. */
export const BUSY_TIMEOUT_MS = 30_000;

/** After the wire server's own wait, how long close() lets a statement run before it stops the engine. */
const STOP_GRACE_MS = 700;

/** The number in the name of a private Unix socket (`.s.PGSQL.5432`), which libpq and pg build from the port. */
export const SOCKET_PORT = 5432;

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
  /** Connection for `pg` and `psql`: the private socket (or `local serve`'s TCP port), user postgres, with its password. */
  info: ConnectionInfo;
  /** The engine itself, in its own thread: dumps run against it directly. */
  db: EngineThread;
  dataDir: string;
  close(): Promise<void>;
}

/** Where the engine is served: a private Unix socket (the default), or TCP for `local serve`. */
export type EngineListen = { kind: 'socket' } | { kind: 'tcp'; host: string; port: number; password: string };

let privateFiles = 0;
let savedUmask: number | undefined;

/**
 * While an engine is open, files this process creates are its owner's only (umask 077): the
 * engine creates data files with its own modes (0640, directories 0750), and whatever else is
 * written meanwhile (backups, job state) holds the same data. Restored when the last one closes.
 */
function holdPrivateUmask(): () => void {
  if (privateFiles++ === 0) {
    try {
      savedUmask = process.umask(0o077);
    } catch {
      // Worker threads cannot change the umask; the chmod after opening still applies.
    }
  }
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    if (--privateFiles === 0 && savedUmask !== undefined) {
      process.umask(savedUmask);
      savedUmask = undefined;
    }
  };
}

/** Directories 0700 and files 0600 below `dir`, for data made before (or by initdb's chmod). */
async function makePrivate(dir: string): Promise<void> {
  await chmod(dir, 0o700);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await makePrivate(path);
    else if (entry.isFile() && ((await stat(path)).mode & 0o077) !== 0) await chmod(path, 0o600);
  }
}

/**
 * Without LOAD after a reopen, reads silently skip compressed chunks and hypertable inserts fail.
 * CREATE EXTENSION must come next in this (the only) session: once anything has touched the
 * loaded library, TimescaleDB refuses to create the extension in that session.
 */
async function loadTimescale(db: EngineThread): Promise<void> {
  await db.exec(`LOAD 'timescaledb'`);
  await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
}

/**
 * Makes a new cluster in an empty PGDATA (initdb, then the extension) and keeps it as the template
 * for the next new cluster (clusterTemplate.ts): copied once the engine has closed it cleanly.
 * False when the template could not be written (a cache: the cluster is made all the same).
 */
async function initClusterAsTemplate(pgdata: string, templatePath?: string): Promise<boolean> {
  const db = await EngineThread.start(pgdata);
  try {
    await loadTimescale(db);
  } finally {
    await db.close();
  }
  // initdb leaves PGDATA 0750 with files 0640; the template, and every copy of it, is private.
  await makePrivate(pgdata);
  return saveClusterTemplate(pgdata, templatePath);
}

/**
 * The engine on PGDATA. A new PGDATA is copied from the cluster template; a template the engine
 * cannot start from is dropped, and initdb runs as it would without one.
 */
async function startEngine(pgdata: string, isNew: boolean): Promise<EngineThread> {
  if (!isNew) return EngineThread.start(pgdata);
  if (await copyClusterTemplate(pgdata)) {
    try {
      return await EngineThread.start(pgdata);
    } catch {
      await dropClusterTemplate();
      await rm(pgdata, { recursive: true, force: true });
      await mkdir(pgdata, { recursive: true, mode: 0o700 });
    }
  }
  await initClusterAsTemplate(pgdata);
  return EngineThread.start(pgdata);
}

/**
 * Makes the cluster template now if there is none (`npm install` runs this through
 * `local prepare`), so that a user's first quickstart copies a cluster instead of waiting for
 * initdb. Nothing is made when a template is already there.
 */
export async function prepareClusterTemplate(): Promise<{ template: 'made' | 'present' | 'unwritable'; path: string }> {
  const path = clusterTemplatePath();
  if (await hasClusterTemplate(path)) return { template: 'present', path };
  const releaseUmask = holdPrivateUmask();
  const scratch = await mkdtemp(join(tmpdir(), 'aetherlens-template-'));
  try {
    const pgdata = join(scratch, 'pgdata');
    await mkdir(pgdata, { mode: 0o700 });
    const saved = await initClusterAsTemplate(pgdata, path).catch((error: unknown) => {
      throw new OpsError('ENGINE', `the embedded engine could not make a new cluster in ${scratch}: ${(error as Error).message}`, { cause: error });
    });
    return { template: saved ? 'made' : 'unwritable', path };
  } finally {
    await rm(scratch, { recursive: true, force: true }).catch(() => {});
    releaseUmask();
  }
}

/**
 * Opens (or creates) the embedded database and serves it over the wire protocol: by default on a
 * Unix socket in a new 0700 directory with a random password, so no other local user can reach
 * it; `local serve` asks for TCP on 127.0.0.1 with its stored password instead. Callers hold the
 * data directory's lock (see fileLock.ts) before calling this.
 */
export async function openEmbeddedEngine(options: { dataDir: string; listen?: EngineListen }): Promise<EmbeddedEngine> {
  const listen = options.listen ?? { kind: 'socket' };
  const paths = embeddedPaths(options.dataDir);
  const state = await checkDataDir(options.dataDir);
  if (listen.kind === 'tcp') await assertPortFree(listen.host, listen.port);
  const releaseUmask = holdPrivateUmask();
  let db: EngineThread | undefined;
  let socketDir: string | undefined;
  try {
    await mkdir(paths.pgdata, { recursive: true, mode: 0o700 });
    try {
      db = await startEngine(paths.pgdata, state === 'new');
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      throw new OpsError('ENGINE', `the embedded engine could not open ${paths.pgdata}: ${(error as Error).message}; the directory was not modified by aetherlens-db`, { cause: error });
    }
    // initdb leaves PGDATA 0750 and the engine then makes files 0640: once PGDATA is 0700 it
    // makes them 0600 (PostgreSQL follows PGDATA's mode), so the walk runs once per directory.
    if (((await stat(paths.pgdata)).mode & 0o077) !== 0) await makePrivate(paths.root);
    else await chmod(paths.root, 0o700);
    await loadTimescale(db);
    if (state === 'new') {
      const stamp: EngineStamp = { engine: ENGINE_ID, pgMajor: ENGINE_PG_MAJOR, createdAt: new Date().toISOString() };
      await writeFile(paths.stamp, `${JSON.stringify(stamp, null, 2)}\n`, { mode: 0o600 });
    }
    const database = (await db.query<{ d: string }>('SELECT current_database() AS d')).rows[0]?.d ?? 'postgres';
    const password = listen.kind === 'tcp' ? listen.password : randomPassword();
    if (listen.kind === 'socket') socketDir = await mkdtemp(join(tmpdir(), 'aetherlens-engine-'));
    const server = new WireServer(db, {
      listen: listen.kind === 'tcp' ? { host: listen.host, port: listen.port } : { path: join(socketDir!, `.s.PGSQL.${SOCKET_PORT}`) },
      password,
      // A random 192-bit password needs no key stretching; 4096 rounds cost each login ~5 ms.
      ...(listen.kind === 'socket' ? { scramIterations: 1 } : {}),
      queueTimeoutMs: BUSY_TIMEOUT_MS,
    });
    let servedPort: number;
    try {
      servedPort = await server.start();
    } catch (error) {
      const where = listen.kind === 'tcp' ? `${listen.host}:${listen.port}` : `a socket in ${socketDir}`;
      throw new OpsError('ENGINE', `cannot serve the embedded database on ${where}: ${(error as Error).message}`, { cause: error });
    }
    const engineDb = db;
    const dir = socketDir;
    let closed = false;
    return {
      info: listen.kind === 'tcp'
        ? { host: listen.host, port: servedPort, user: ENGINE_USER, password, database }
        : { host: dir!, port: SOCKET_PORT, user: ENGINE_USER, password, database },
      db: engineDb,
      dataDir: paths.root,
      async close() {
        if (closed) return;
        closed = true;
        await server.stop().catch(() => {});
        await engineDb.close(STOP_GRACE_MS).catch(() => {});
        if (dir) await rm(dir, { recursive: true, force: true }).catch(() => {});
        releaseUmask();
      },
    };
  } catch (error) {
    await db?.close().catch(() => {});
    if (socketDir) await rm(socketDir, { recursive: true, force: true }).catch(() => {});
    releaseUmask();
    throw error;
  }
}
