/**
 * A PostgreSQL server's own databases, reached from its maintenance database: what the server and
 * docker kinds' restore sites do, and what the major upgrade does after its restore (major.ts).
 */
import type pg from 'pg';
import type { ConnectionInfo } from '../connection.js';
import { connect, quoteIdent } from '../pg.js';

/**
 * A session on the server's maintenance database: CREATE, DROP and RENAME DATABASE cannot run
 * while connected to the database they act on. "postgres" normally exists; template1 always does.
 */
export async function connectMaintenance(connection: ConnectionInfo): Promise<pg.Client> {
  for (const database of ['postgres', 'template1']) {
    try {
      return await connect(connection, database);
    } catch (error) {
      if (database === 'template1' || !/does not exist/.test((error as Error).message)) throw error;
    }
  }
  throw new Error('unreachable');
}

export async function withMaintenance<T>(connection: ConnectionInfo, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectMaintenance(connection);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function databaseExists(client: pg.Client, name: string): Promise<boolean> {
  const { rows } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return rows.length > 0;
}

/** Drops a database, ending any session still in it (PostgreSQL 13+: WITH (FORCE)). */
export async function dropDatabase(client: pg.Client, name: string): Promise<void> {
  await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
}
