import type { ConnectionInfo } from '../connection.js';
import { OpsError } from '../errors.js';
import type { Logger } from '../logger.js';
import { quoteIdent, quoteLiteral, withClient } from '../pg.js';
import { listCatalog, type CatalogEntry } from '../backup/catalog.js';
import { drill, type DrillReport } from '../restore/drill.js';
import { restore, type RestoreReport } from '../restore/restore.js';
import { dropDatabase, withMaintenance } from '../targets/maintenance.js';
import type { Target } from '../targets/types.js';

export interface MajorMove {
  /** The backup carried over: the newest drilled one of this target, from the older major. */
  backup: string;
  /** PostgreSQL server versions, e.g. "15.14" → "17.12". */
  fromServer: string;
  toServer: string;
  /** The drill on the new server, then the restore that put the data in place. */
  drill: DrillReport;
  restore: RestoreReport;
}

const majorOf = (version: string) => Number(/^(\d+)/.exec(version)?.[1] ?? NaN);

/** Written on a database this module filled: a rerun must not restore the same backup over newer writes. */
const MARKER = 'aetherlens-db: carried over to this PostgreSQL major from backup ';

/** Whether the database was never migrated (a new volume the entrypoint just initialised), and its comment. */
async function liveState(connection: ConnectionInfo, database = connection.database): Promise<{ fresh: boolean; comment: string | null }> {
  return withClient(connection, async (c) => {
    const row = (await c.query<{ r: string | null; comment: string | null }>(
      `SELECT to_regclass('public.migration_history')::text AS r, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = current_database()`)).rows[0]!;
    return { fresh: row.r === null, comment: row.comment };
  }, database);
}

/**
 * The newest backup of this target, whatever its state: never an older one in its place, which
 * would carry stale data over as if it were the pre-upgrade backup.
 */
async function newestOf(backupDir: string, label: string): Promise<CatalogEntry | undefined> {
  const entries = await listCatalog(backupDir).catch(() => [] as CatalogEntry[]);
  return entries.filter((e) => e.manifest?.target.label === label).sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
}

/**
 * The first start of a new PostgreSQL major (a new, empty volume): when this target's newest
 * drilled backup comes from an older major (the pre-upgrade backup the stack took of the old
 * server) and the database was never migrated, or was carried over from another such backup
 * before (an upgrade that was rolled back, now made again: the old major's data is the newer),
 * restores it here: first a drill on this server
 * (created at the dump's TimescaleDB version, checked, updated in a fresh session, checked again,
 * recorded in the manifest), then the restore itself with the same checks before the swap. Either
 * failing leaves this database as the entrypoint made it, so a second run tries again; the old
 * volume is never touched. Returns null when there is nothing to carry over (not a fresh database,
 * or no older-major backup: a first deploy).
 */
export async function carryOverMajor(options: {
  /** The open target (a server): its connection, label and restore sites. */
  target: Target;
  backupDir: string;
  signal?: AbortSignal;
  logger: Logger;
}): Promise<MajorMove | null> {
  const { logger } = options;
  const { connection, label } = options.target;
  const live = await liveState(connection);
  if (!live.fresh && !live.comment?.startsWith(MARKER)) return null;
  const toServer = await withClient(connection, async (c) => (await c.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v.split(' ')[0]!);
  const newest = await newestOf(options.backupDir, label);
  if (!newest?.manifest || majorOf(newest.manifest.versions.server) >= majorOf(toServer)) return null;
  const { id } = newest;
  if (live.comment === MARKER + id) return null;
  const fromServer = newest.manifest.versions.server;
  if (newest.status !== 'verified') {
    const why = newest.status === 'failed' ? `failed its last drill (${newest.manifest.verification?.differences[0] ?? 'see its manifest'})` : 'has not passed a drill';
    throw new OpsError('RESTORE', `major upgrade stopped: the newest backup of this server, ${id} (PostgreSQL ${fromServer}), ${why}, and an older one would lose what came after it; nothing was restored, the PostgreSQL ${majorOf(fromServer)} volume is untouched: set the previous image again (its pulumi up takes and drills a new pre-upgrade backup next time)`);
  }
  const common = { target: options.target, backupDir: options.backupDir, logger, createRoles: true, ...(options.signal ? { signal: options.signal } : {}) };
  const keep = `the PostgreSQL ${majorOf(fromServer)} volume is untouched: set the previous image again to go back to it`;

  logger.info(`PostgreSQL ${fromServer} → ${toServer}: drilling the pre-upgrade backup ${id} on this server`);
  let drilled: DrillReport;
  try {
    drilled = await drill({ ...common, backup: id });
  } catch (error) {
    // Could not run at all (the disk filled, the server went away): the backup is not to blame.
    throw new OpsError('RESTORE', `major upgrade stopped: the drill of the pre-upgrade backup ${id} on PostgreSQL ${toServer} could not run: ${(error as Error).message}; nothing was restored, ${keep}`, { cause: error });
  }
  if (!drilled.ok) {
    throw new OpsError('RESTORE', `major upgrade stopped: the pre-upgrade backup ${id} failed its drill on PostgreSQL ${toServer} (${drilled.differences[0]}); nothing was restored, ${keep}`);
  }
  logger.info(`restoring ${id} into database "${connection.database}"`);
  let restored: RestoreReport;
  try {
    restored = await restore({ ...common, selection: { backup: id }, force: true, confirm: async () => true });
  } catch (error) {
    throw new OpsError('RESTORE', `major upgrade stopped: restoring the pre-upgrade backup ${id} on PostgreSQL ${toServer} failed: ${(error as Error).message}; ${keep}`, { cause: error });
  }
  const previous = restored.swap.previous;
  await withMaintenance(connection, async (client) => {
    await client.query(`COMMENT ON DATABASE ${quoteIdent(restored.live)} IS ${quoteLiteral(MARKER + id)}`);
    // An empty database the entrypoint made a minute ago is not worth keeping; an earlier carried-over one is.
    if (previous && (await liveState(connection, previous)).fresh) await dropDatabase(client, previous);
    else if (previous) logger.warn(`the data this server had before is kept as database "${previous}"`);
  });
  return { backup: id, fromServer, toServer, drill: drilled, restore: restored };
}
