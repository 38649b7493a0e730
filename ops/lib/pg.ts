import pg from 'pg';
import { OpsError } from './errors.js';
import { describeConnection, type ConnectionInfo } from './connection.js';
import { describeTlsFailure, tlsAttempts } from './tls.js';

export type Client = pg.Client;

/** A host that does not answer must fail within 10 s (issue 2). */
export const CONNECT_TIMEOUT_MS = 10_000;

/** Errors after which libpq tries its next attempt (allow/prefer): the server answered, or TLS failed. */
function mayFallBack(error: unknown): boolean {
  const e = error as { severity?: string; code?: string; message?: string };
  if (typeof e.severity === 'string') return true;
  if (e.message === 'The server does not support SSL connections') return true;
  return describeTlsFailure(error, '', {}) !== undefined;
}

/**
 * Opens a client or throws an OpsError that says what to check. TLS follows libpq's sslmode
 * (tls.ts): allow and prefer try a second way when the first is refused, as libpq does.
 */
export async function connect(info: ConnectionInfo, database = info.database): Promise<pg.Client> {
  let failure: unknown;
  for (const attempt of tlsAttempts(info)) {
    const client = new pg.Client({
      host: info.host,
      port: info.port,
      user: info.user,
      password: info.password,
      database,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      application_name: 'aetherlens-db',
      ssl: attempt.ssl,
    });
    // An idle client whose server goes away emits 'error'; without a listener that kills the process.
    client.on('error', () => {});
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => {});
      failure = error;
      if (!attempt.fallBack || !mayFallBack(error)) break;
    }
  }
  throw translateConnectError(failure, info, database);
}

function translateConnectError(error: unknown, info: ConnectionInfo, database: string): OpsError {
  const where = describeConnection(info, database);
  const e = error as { code?: string; message?: string };
  switch (e.code) {
    case '28000':
      // pg_hba.conf turned us away: a wrong password is not the reason, the way we came is.
      if (/pg_hba\.conf/.test(e.message ?? '')) {
        const fix = /no encryption/.test(e.message ?? '') ? 'it requires TLS for this user: use sslmode=require or stronger in DATABASE_URL'
          : /SSL encryption/.test(e.message ?? '') ? 'it refuses TLS for this user: use sslmode=disable or prefer in DATABASE_URL'
            : 'its pg_hba.conf must allow this user, database and host';
        return new OpsError('AUTH', `the server at ${where} turns this connection away (${e.message}): ${fix}`, { cause: error });
      }
    // falls through
    case '28P01':
      return new OpsError('AUTH', `authentication failed for user "${info.user}" at ${where}: check the password in DATABASE_URL (or PGPASSWORD)`, { cause: error });
    case '3D000':
      return new OpsError('CONNECT', `database "${database}" does not exist at ${where}: create it first (createdb) or fix the database name`, { cause: error });
    case 'ECONNREFUSED':
      return new OpsError('CONNECT', `nothing is listening at ${info.host}:${info.port}: start the server or fix the host/port in DATABASE_URL`, { cause: error });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new OpsError('CONNECT', `host "${info.host}" cannot be resolved: fix the host in DATABASE_URL`, { cause: error });
    case '57P03':
      return new OpsError('CONNECT', `the server at ${where} is starting up or shutting down: try again in a moment`, { cause: error });
    default: {
      const tls = describeTlsFailure(error, where, info);
      if (tls) return new OpsError('CONNECT', tls, { cause: error });
      if (/timeout/i.test(e.message ?? '')) {
        return new OpsError('CONNECT', `no answer from ${info.host}:${info.port} within ${CONNECT_TIMEOUT_MS / 1000} s: check the host, port and firewall`, { cause: error });
      }
      return new OpsError('CONNECT', `cannot connect to ${where}: ${e.message ?? String(error)}`, { cause: error });
    }
  }
}

/** Runs `fn` with a connected client and always closes it. */
export async function withClient<T>(info: ConnectionInfo, fn: (client: pg.Client) => Promise<T>, database?: string): Promise<T> {
  const client = await connect(info, database);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** BEGIN … COMMIT around `fn`, ROLLBACK on any error. */
export async function withTransaction<T>(client: pg.Client, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/** Quotes an identifier the way PostgreSQL does; names never reach SQL any other way. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
