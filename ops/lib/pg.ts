import pg from 'pg';
import { OpsError } from './errors.js';
import { describeConnection, type ConnectionInfo } from './connection.js';

export type Client = pg.Client;

/** A host that does not answer must fail within 10 s (issue 2). */
export const CONNECT_TIMEOUT_MS = 10_000;

/** Opens a client or throws an OpsError that says what to check. */
export async function connect(info: ConnectionInfo, database = info.database): Promise<pg.Client> {
  const client = new pg.Client({
    host: info.host,
    port: info.port,
    user: info.user,
    password: info.password,
    database,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: 'aetherlens-db',
    ...(info.sslmode && info.sslmode !== 'disable' ? { ssl: { rejectUnauthorized: info.sslmode === 'verify-full' } } : {}),
  });
  // An idle client whose server goes away emits 'error'; without a listener that kills the process.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw translateConnectError(error, info, database);
  }
  return client;
}

function translateConnectError(error: unknown, info: ConnectionInfo, database: string): OpsError {
  const where = describeConnection(info, database);
  const e = error as { code?: string; message?: string };
  switch (e.code) {
    case '28P01':
    case '28000':
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
    default:
      if (/timeout/i.test(e.message ?? '')) {
        return new OpsError('CONNECT', `no answer from ${info.host}:${info.port} within ${CONNECT_TIMEOUT_MS / 1000} s: check the host, port and firewall`, { cause: error });
      }
      return new OpsError('CONNECT', `cannot connect to ${where}: ${e.message ?? String(error)}`, { cause: error });
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
