/**
 * What a bench server says it is: the PostgreSQL and TimescaleDB versions and the edition, read
 * from the server itself (the library's inspectTimescale), never assumed. The table's header and
 * every row's label use it, so a figure always names the build it was measured on.
 */
import type pg from 'pg';
import { inspectTimescale } from '../../ops/lib/index.js';

export interface ServerIdentity {
  /** server_version, e.g. "15.20". */
  postgres: string;
  /** The extension's version in this database, else the one the server offers. */
  timescaledb: string;
  /** timescaledb.license as the server reports it ("timescale", "apache"), or "unreadable". */
  license: string;
  /** The community edition (license "timescale"): compression, continuous aggregates, policies. */
  community: boolean;
}

/**
 * Reads the server's identity. With its target (a server with its own sessions) the edition is
 * probed even before the extension exists in the database, as the migration runner does.
 */
export async function readServer(client: pg.Client, target?: Parameters<typeof inspectTimescale>[1]): Promise<ServerIdentity> {
  const info = await inspectTimescale(client, target);
  const version = info.installedVersion ?? info.availableVersion;
  if (!version) throw new Error(`TimescaleDB is not installed on this PostgreSQL ${info.serverVersion} server`);
  return { postgres: info.serverVersion, timescaledb: version, license: info.edition ?? 'unreadable', community: info.edition === 'timescale' };
}

/** "community" or "Apache"; an unreadable license is said as such, not guessed. */
export function editionName(server: ServerIdentity): string {
  if (server.community) return 'community';
  return server.license === 'apache' ? 'Apache' : 'unknown';
}

/** "TimescaleDB 2.22.1 community": for row labels. */
export const timescaleLabel = (server: ServerIdentity) => `TimescaleDB ${server.timescaledb} ${editionName(server)}`;

/** "PostgreSQL 15.20 + TimescaleDB 2.22.1 (community edition, timescaledb.license = timescale)": for the header. */
export function describeServer(server: ServerIdentity): string {
  return `PostgreSQL ${server.postgres} + TimescaleDB ${server.timescaledb} (${editionName(server)} edition, timescaledb.license = ${server.license})`;
}
