import type pg from 'pg';
import type { EngineThread } from '../embedded/engineThread.js';

/**
 * The little of a SQL session that backups, fingerprints and drills need. Both a `pg` client (on
 * a server or in a container) and the in-process PGlite engine provide it, so the same code reads
 * either. Callers cast what they read to text in SQL: the two drivers parse numbers and dates
 * differently, text is the same everywhere.
 */
export interface SqlClient {
  query<R extends object = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

/** A `pg` client seen as a SqlClient. */
export function pgSqlClient(client: pg.Client): SqlClient {
  return {
    async query<R extends object>(text: string, params?: unknown[]) {
      const result = await client.query(text, params as unknown[] | undefined);
      return { rows: result.rows as R[] };
    },
  };
}

/** The embedded engine (PGlite, in its thread) seen as a SqlClient. */
export function pgliteSqlClient(db: Pick<EngineThread, 'query'>): SqlClient {
  return {
    async query<R extends object>(text: string, params?: unknown[]) {
      const result = await db.query<R>(text, params as unknown[] | undefined);
      return { rows: result.rows };
    },
  };
}
