import { hostname } from 'node:os';
import type pg from 'pg';
import type { ConnectionInfo } from '../../connection.js';
import { isProcessAlive } from '../../fileLock.js';
import { silentLogger, type Logger } from '../../logger.js';
import { quoteIdent, quoteLiteral } from '../../pg.js';
import { dropDatabase, withMaintenance } from '../maintenance.js';
import type { ScratchPurpose } from '../names.js';

/**
 * Every database a drill or restore creates carries this comment until it is dropped or swapped
 * in, so a later run can tell its own leftovers (from a kill -9) from anybody else's databases.
 */
export const SCRATCH_MARKER = 'aetherlens-db scratch ';

export interface ScratchOwner {
  purpose: ScratchPurpose;
  pid: number;
  host: string;
  since: string;
  backup: string;
}

/** The comment that marks a scratch database as ours. */
export function scratchComment(owner: ScratchOwner): string {
  return `${SCRATCH_MARKER}${JSON.stringify(owner)}`;
}

export function parseScratchComment(comment: string | null): ScratchOwner | undefined {
  if (!comment?.startsWith(SCRATCH_MARKER)) return undefined;
  try {
    return JSON.parse(comment.slice(SCRATCH_MARKER.length)) as ScratchOwner;
  } catch {
    return undefined;
  }
}

/**
 * Creates an empty database for a drill or restore, marked as ours. template0, because template1
 * may carry objects of its own that would clash with the dump's.
 */
export async function createScratchDatabase(client: pg.Client, name: string, owner: Omit<ScratchOwner, 'pid' | 'host' | 'since'>): Promise<void> {
  await client.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0`);
  const full: ScratchOwner = { ...owner, pid: process.pid, host: hostname(), since: new Date().toISOString() };
  await client.query(`COMMENT ON DATABASE ${quoteIdent(name)} IS ${quoteLiteral(scratchComment(full))}`);
}

/** Drops a scratch database on a fresh session; never throws (it runs in finally blocks). */
export async function dropScratchQuietly(connection: ConnectionInfo, name: string, logger: Logger): Promise<boolean> {
  try {
    await withMaintenance(connection, (client) => dropDatabase(client, name));
    return true;
  } catch (error) {
    logger.warn(`could not drop the scratch database "${name}" (${(error as Error).message}): drop it by hand with DROP DATABASE ${quoteIdent(name)} WITH (FORCE)`);
    return false;
  }
}

export interface Leftover {
  database: string;
  owner: ScratchOwner;
}

/**
 * Drops the scratch databases of drills and restores that died (kill -9, power loss) on this
 * host. A scratch database of a process that is still running, or of another host, is left alone
 * (the latter with a warning that names it). Returns what was dropped.
 */
export async function cleanLeftoverDatabases(connection: ConnectionInfo, logger: Logger = silentLogger): Promise<Leftover[]> {
  return withMaintenance(connection, async (client) => {
    const { rows } = await client.query<{ datname: string; comment: string | null }>(
      `SELECT datname, shobj_description(oid, 'pg_database') AS comment FROM pg_database
        WHERE shobj_description(oid, 'pg_database') LIKE $1 ORDER BY datname`, [`${SCRATCH_MARKER}%`]);
    const dropped: Leftover[] = [];
    for (const row of rows) {
      const owner = parseScratchComment(row.comment);
      if (!owner) continue;
      if (owner.host !== hostname()) {
        logger.warn(`scratch database "${row.datname}" belongs to a ${owner.purpose} by pid ${owner.pid} on ${owner.host} (since ${owner.since}); if that run is gone, drop it with DROP DATABASE ${quoteIdent(row.datname)} WITH (FORCE)`);
        continue;
      }
      if (isProcessAlive(owner.pid)) continue;
      await dropDatabase(client, row.datname);
      logger.info(`dropped "${row.datname}", left behind by an interrupted ${owner.purpose} (pid ${owner.pid}, since ${owner.since})`);
      dropped.push({ database: row.datname, owner });
    }
    return dropped;
  });
}
