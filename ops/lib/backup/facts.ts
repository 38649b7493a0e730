import type { SqlClient } from '../targets/sqlClient.js';
import { LEDGER_TABLE } from '../migrations/ledger.js';

/** What a manifest records about the database besides its data. */
export interface DatabaseFacts {
  database: string;
  /** e.g. "15.20" */
  serverVersion: string;
  timescaledb: string | null;
  /** timescaledb.license: "timescale" (community) or "apache"; null without the extension. */
  edition: string | null;
  /** Highest successful migration in the ledger, null when there is none. */
  migrationHead: number | null;
}

/** Reads versions and the migration head through `client` (inside the dump's snapshot, if any). */
export async function readDatabaseFacts(client: SqlClient): Promise<DatabaseFacts> {
  const row = (await client.query<{ database: string; server: string; tsdb: string | null; license: string | null; ledger: string | null }>(
    `SELECT current_database() AS database, current_setting('server_version') AS server,
            (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS tsdb,
            current_setting('timescaledb.license', true) AS license,
            to_regclass('public.${LEDGER_TABLE}')::text AS ledger`)).rows[0]!;
  let migrationHead: number | null = null;
  if (row.ledger) {
    const head = (await client.query<{ head: string | null }>(`SELECT max(version)::text AS head FROM public.${LEDGER_TABLE} WHERE success`)).rows[0]?.head;
    migrationHead = head == null ? null : Number(head);
  }
  return {
    database: row.database,
    serverVersion: row.server.split(' ')[0]!,
    timescaledb: row.tsdb ?? null,
    edition: row.tsdb ? row.license || null : null,
    migrationHead,
  };
}
