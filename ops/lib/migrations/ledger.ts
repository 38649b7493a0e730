import type pg from 'pg';

/** The runner's ledger: one row per migration file that ran (DESIGN section 4). */
export const LEDGER_TABLE = 'migration_history';

export interface LedgerRow {
  version: number;
  name: string;
  checksum: string;
  applied_at: Date;
  applied_by: string;
  execution_ms: number;
  success: boolean;
  adopted: boolean;
}

export async function ledgerExists(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ t: string | null }>(`SELECT to_regclass('public.${LEDGER_TABLE}')::text AS t`);
  return rows[0]?.t != null;
}

export async function ensureLedger(client: pg.Client): Promise<void> {
  await client.query(`
    CREATE TABLE IF NOT EXISTS public.${LEDGER_TABLE} (
      version      integer     PRIMARY KEY,
      name         text        NOT NULL,
      checksum     char(64)    NOT NULL,
      applied_at   timestamptz NOT NULL DEFAULT now(),
      applied_by   text        NOT NULL DEFAULT current_user,
      execution_ms integer     NOT NULL,
      success      boolean     NOT NULL,
      adopted      boolean     NOT NULL DEFAULT false
    )`);
  await client.query(`COMMENT ON TABLE public.${LEDGER_TABLE} IS 'aetherlens-db migration ledger: do not edit by hand'`);
}

export async function readLedger(client: pg.Client): Promise<LedgerRow[]> {
  if (!(await ledgerExists(client))) return [];
  const { rows } = await client.query<LedgerRow>(`SELECT version, name, checksum, applied_at, applied_by, execution_ms, success, adopted FROM public.${LEDGER_TABLE} ORDER BY version`);
  return rows.map((r) => ({ ...r, checksum: r.checksum.trim() }));
}

export async function recordMigration(
  client: pg.Client,
  row: Pick<LedgerRow, 'version' | 'name' | 'checksum' | 'execution_ms' | 'success'> & { adopted?: boolean; applied_by?: string },
): Promise<void> {
  await client.query(
    `INSERT INTO public.${LEDGER_TABLE} (version, name, checksum, execution_ms, success, adopted, applied_by)
     VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, current_user))
     ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, checksum = EXCLUDED.checksum, applied_at = now(),
       applied_by = EXCLUDED.applied_by, execution_ms = EXCLUDED.execution_ms, success = EXCLUDED.success, adopted = EXCLUDED.adopted`,
    [row.version, row.name, row.checksum, row.execution_ms, row.success, row.adopted ?? false, row.applied_by ?? null],
  );
}
