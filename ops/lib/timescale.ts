import type pg from 'pg';
import { OpsError } from './errors.js';
import type { ConnectionInfo } from './connection.js';
import { withClient } from './pg.js';
import type { TargetCapabilities } from './targets/types.js';

/** TimescaleDB's editions (`SHOW timescaledb.license`): community features need `timescale`. */
export type Edition = 'apache' | 'timescale';

/** The image production runs; named in every message that tells an operator what to install. */
export const PRODUCTION_IMAGE = 'timescale/timescaledb:2.22.1-pg15';

export interface TimescaleInfo {
  /** Server version, e.g. "15.18". */
  serverVersion: string;
  serverMajor: number;
  /** Version of the extension files on the server, if any. */
  availableVersion?: string;
  /** Version installed in this database, if any. */
  installedVersion?: string;
  /** Whether the library is in shared_preload_libraries (the GUCs exist only then). */
  preloaded: boolean;
  edition?: Edition;
}

/** Where `inspectTimescale` may open a probe session, and what it can rely on there (an open Target is one). */
export interface TimescaleProbe {
  connection: ConnectionInfo;
  capabilities: Pick<TargetCapabilities, 'sessions' | 'timescaleLoad'>;
}

/**
 * Reads what the server offers without changing anything. Given the target it runs on, it finds
 * the edition of a server whose library is loaded but not yet created here (a probe session).
 */
export async function inspectTimescale(client: pg.Client, target?: TimescaleProbe): Promise<TimescaleInfo> {
  const { rows } = await client.query<{
    server_version: string;
    server_num: string;
    available: string | null;
    installed: string | null;
    license: string | null;
    preloaded: boolean;
  }>(`SELECT current_setting('server_version') AS server_version,
             current_setting('server_version_num') AS server_num,
             (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb') AS available,
             (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS installed,
             current_setting('timescaledb.license', true) AS license,
             current_setting('shared_preload_libraries') ~ '(^|[ ,])timescaledb([ ,]|$)' AS preloaded`);
  const row = rows[0]!;
  let license = row.license;
  const loaded = row.preloaded || Boolean(row.license) || target?.capabilities.timescaleLoad === 'loaded-on-open';
  // A probe needs a session of its own (on a shared single session it would wait for this one);
  // where TimescaleDB is created on open, the license is already there and no probe runs.
  if (!license && loaded && row.available && target && target.capabilities.sessions === 'many') {
    license = await withProbeClient(target.connection, probeLicenseIn);
  }
  const edition = license === 'timescale' || license === 'apache' ? license : undefined;
  return {
    serverVersion: row.server_version.split(' ')[0]!,
    serverMajor: Math.floor(Number(row.server_num) / 10000),
    ...(row.available ? { availableVersion: row.available } : {}),
    ...(row.installed ? { installedVersion: row.installed } : {}),
    // Loaded with LOAD when the engine opens counts as preloaded: the library is there in every session.
    preloaded: loaded,
    ...(edition ? { edition } : {}),
  };
}

/**
 * The edition's setting exists only once the versioned library is loaded, i.e. after CREATE
 * EXTENSION: create it inside a transaction that is always rolled back, so nothing changes. It
 * runs on its own session, because the loaded library stays behind and would make a later
 * CREATE EXTENSION in the same session fail ("already loaded with another version").
 */
const withProbeClient = <T>(connection: ConnectionInfo, fn: (client: pg.Client) => Promise<T>): Promise<T> => withClient(connection, fn);

async function probeLicenseIn(client: pg.Client): Promise<string | null> {
  await client.query('BEGIN');
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
    const { rows } = await client.query<{ license: string | null }>(`SELECT current_setting('timescaledb.license', true) AS license`);
    return rows[0]?.license ?? null;
  } catch {
    return null;
  } finally {
    await client.query('ROLLBACK').catch(() => {});
  }
}

/** Refuses a server without a usable TimescaleDB, naming what to install. */
export function assertTimescaleUsable(info: TimescaleInfo): void {
  if (!info.availableVersion && !info.installedVersion) {
    throw new OpsError('EXTENSION', `TimescaleDB is not installed on this PostgreSQL ${info.serverVersion} server: run the ${PRODUCTION_IMAGE} image (pulumi up) or install the timescaledb-2-postgresql-${info.serverMajor} package`);
  }
  if (!info.preloaded) {
    throw new OpsError('EXTENSION', `TimescaleDB is installed but not loaded: add shared_preload_libraries = 'timescaledb' to postgresql.conf and restart the server`);
  }
}

/** Refuses the Apache edition where community features are needed, before anything changes. */
export function assertCommunityEdition(info: TimescaleInfo, what: string): void {
  if (info.edition !== 'apache') return;
  throw new OpsError('EDITION', `${what} needs the TimescaleDB community edition (compression, continuous aggregates, policies), but this server runs the Apache-2 edition (timescaledb.license = apache): use the ${PRODUCTION_IMAGE} image or Timescale's timescaledb-2-postgresql-${info.serverMajor} package; nothing was changed`);
}
