import type { ConnectionInfo } from './connection.js';
import { OpsError } from './errors.js';
import { quoteLiteral, withClient } from './pg.js';

/** Orders TimescaleDB versions numerically ("2.9.0" < "2.22.1"); suffixes such as "-dev" sort first. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.split(/[.-]/).map((p) => (/^\d+$/.test(p) ? Number(p) : -1));
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The extension in one database, and what the server offers. */
export interface ExtensionVersions {
  /** extversion in this database; null when the extension is not created there. */
  installed: string | null;
  /** The control file's default_version: what a plain ALTER EXTENSION ... UPDATE moves to. */
  serverDefault: string | null;
  /** Every version CREATE EXTENSION ... VERSION / UPDATE TO accepts on this server. */
  available: string[];
}

export async function readExtensionVersions(connection: ConnectionInfo, database: string): Promise<ExtensionVersions> {
  return withClient(connection, async (client) => {
    const { rows } = await client.query<{ installed: string | null; dflt: string | null; available: string[] | null }>(
      `SELECT (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS installed,
              (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb') AS dflt,
              (SELECT array_agg(version::text) FROM pg_available_extension_versions WHERE name = 'timescaledb') AS available`);
    const row = rows[0]!;
    return { installed: row.installed, serverDefault: row.dflt, available: (row.available ?? []).sort(compareVersions) };
  }, database);
}

/** Where an update goes: `to` when given, else the server's default; never backwards. */
export function updateTarget(versions: ExtensionVersions, to?: string): string | null {
  if (versions.installed === null) return null;
  const wanted = to ?? versions.serverDefault;
  if (wanted === null || compareVersions(wanted, versions.installed) <= 0) return versions.installed;
  return wanted;
}

export interface ExtensionUpdate {
  database: string;
  from: string | null;
  to: string | null;
  seconds: number;
}

/**
 * `ALTER EXTENSION timescaledb UPDATE [TO 'x']` as the first statement of a new session, as
 * TimescaleDB requires (a session that already used the old library cannot load the new one).
 * PostgreSQL runs the update scripts in one transaction: a failure leaves the old version whole.
 * Does nothing when the database is already there, or has no extension; `beforeUpdate` runs only
 * when it will update (a drill fingerprints the copy there, to compare after).
 */
export async function updateExtension(connection: ConnectionInfo, database: string, to?: string, beforeUpdate?: () => Promise<void>): Promise<ExtensionUpdate> {
  const started = performance.now();
  const before = await readExtensionVersions(connection, database);
  const target = updateTarget(before, to);
  if (to !== undefined && !before.available.includes(to)) {
    throw new OpsError('EXTENSION', `TimescaleDB ${to} is not installed on this server (it offers ${before.available.join(', ') || 'none'}): use an image or package that has it; nothing was changed`);
  }
  if (target === before.installed) return { database, from: before.installed, to: before.installed, seconds: 0 };
  await beforeUpdate?.();
  await withClient(connection, async (client) => {
    try {
      await client.query(`ALTER EXTENSION timescaledb UPDATE TO ${quoteLiteral(target!)}`);
    } catch (error) {
      throw new OpsError('EXTENSION', `ALTER EXTENSION timescaledb UPDATE TO '${target}' failed in database "${database}": ${(error as Error).message}; PostgreSQL rolled it back, the database is still at TimescaleDB ${before.installed}`, { cause: error });
    }
  }, database);
  const after = await readExtensionVersions(connection, database);
  return { database, from: before.installed, to: after.installed, seconds: (performance.now() - started) / 1000 };
}
