import { OpsError } from './errors.js';
import { rememberSecret } from './secrets.js';
import { isSslMode, SSL_MODES, tlsEnv, type TlsSettings } from './tls.js';
import type { Environment } from './settings/variables.js';

export { redact } from './secrets.js';

/** Where a server is and who we are there. The password never leaves this object in text. */
export interface ConnectionInfo {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  /** libpq's sslmode, sslrootcert, sslcert, sslkey (tls.ts); unset sslmode means libpq's default, prefer. */
  sslmode?: string;
  sslrootcert?: string;
  sslcert?: string;
  sslkey?: string;
}

const SCHEMES = new Set(['postgres:', 'postgresql:']);

/**
 * Parses a DATABASE_URL; what it leaves out comes from libpq's variables in `env` (PGUSER,
 * PGPASSWORD, PGSSL*), as psql would take them. The error never repeats the URL, because it may
 * carry a password.
 */
export function parseDatabaseUrl(url: string, setting = 'DATABASE_URL', env: Environment = {}): ConnectionInfo {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new OpsError('CONFIG', `${setting} is not a valid URL: expected postgres://USER:PASSWORD@HOST:PORT/DATABASE`);
  }
  if (!SCHEMES.has(parsed.protocol)) {
    throw new OpsError('CONFIG', `${setting} must start with postgres:// or postgresql:// (got ${parsed.protocol}//)`);
  }
  const port = parsed.port === '' ? 5432 : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new OpsError('CONFIG', `${setting} has an invalid port: use 1-65535`);
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  const host = parsed.searchParams.get('host') ?? decodeURIComponent(parsed.hostname);
  if (host === '') throw new OpsError('CONFIG', `${setting} has no host: expected postgres://USER:PASSWORD@HOST:PORT/DATABASE`);
  const user = decodeURIComponent(parsed.username) || env.PGUSER || 'postgres';
  const password = parsed.password === '' ? env.PGPASSWORD : decodeURIComponent(parsed.password);
  rememberSecret(password);
  return {
    host,
    port,
    user,
    ...(password !== undefined ? { password } : {}),
    database: database || user,
    ...tlsSettings(parsed.searchParams, setting, env),
  };
}

/** sslmode and the certificate files, from the URL, else from libpq's environment variables. */
function tlsSettings(params: URLSearchParams, setting: string, env: Environment): TlsSettings {
  const out: TlsSettings = {};
  for (const [key, variable] of [['sslmode', 'PGSSLMODE'], ['sslrootcert', 'PGSSLROOTCERT'], ['sslcert', 'PGSSLCERT'], ['sslkey', 'PGSSLKEY']] as const) {
    const value = params.get(key) || env[variable];
    if (value) out[key] = value;
  }
  if (out.sslmode !== undefined && !isSslMode(out.sslmode)) {
    throw new OpsError('CONFIG', `${setting} has sslmode=${out.sslmode}, which libpq does not know: use one of ${SSL_MODES.join(', ')}`);
  }
  return out;
}

/** postgres://user@host:port/db, with the password masked: safe for logs, errors and manifests. */
export function describeConnection(info: ConnectionInfo, database = info.database): string {
  const auth = info.password === undefined ? info.user : `${info.user}:***`;
  const base = `postgres://${encodeURIComponent(auth).replace('%3A***', ':***')}@`;
  // A Unix socket's directory goes in ?host=, as libpq reads it; the port names the socket file.
  if (info.host.startsWith('/')) return `${base}localhost:${info.port}/${database}?host=${info.host}`;
  return `${base}${info.host}:${info.port}/${database}`;
}

/** A full URL with the password: for the environment of a child process, never for printing. */
export function connectionUrl(info: ConnectionInfo, database = info.database): string {
  const u = new URL('postgres://x');
  u.username = info.user;
  if (info.password !== undefined) u.password = info.password;
  if (info.host.startsWith('/')) {
    u.hostname = 'localhost';
    u.searchParams.set('host', info.host);
  } else u.hostname = info.host;
  u.port = String(info.port);
  u.pathname = `/${encodeURIComponent(database)}`;
  for (const key of ['sslmode', 'sslrootcert', 'sslcert', 'sslkey'] as const) if (info[key]) u.searchParams.set(key, info[key]);
  return u.toString();
}

/** libpq environment for pg_dump/pg_restore/psql, so secrets travel in env and not argv. */
export function libpqEnv(info: ConnectionInfo, database = info.database): Record<string, string> {
  return {
    PGHOST: info.host,
    PGPORT: String(info.port),
    PGUSER: info.user,
    PGDATABASE: database,
    ...(info.password !== undefined ? { PGPASSWORD: info.password } : {}),
    ...tlsEnv(info),
    PGCONNECT_TIMEOUT: '10',
    PGAPPNAME: 'aetherlens-db',
  };
}
