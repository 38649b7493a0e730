import type pg from 'pg';
import { OpsError } from '../errors.js';

/** pg_advisory_lock key for migrations: 'AETHMIGR' as a bigint, so no other app collides with it. */
export const MIGRATION_LOCK_KEY = '4702959436451400018';

const POLL_MS = 250;

/**
 * Holds a session-level advisory lock while `fn` runs. Waits up to `timeoutMs`, then names the
 * session that holds it (pid, application, client address, since when).
 */
export async function withAdvisoryLock<T>(client: pg.Client, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [MIGRATION_LOCK_KEY]);
    if (rows[0]?.ok) break;
    if (Date.now() >= deadline) throw new OpsError('LOCK_HELD', `another migration run holds the lock after ${Math.round(timeoutMs / 1000)} s: ${await describeHolder(client)}; wait for it to finish or stop it`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  try {
    return await fn();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]).catch(() => {});
  }
}

async function describeHolder(client: pg.Client): Promise<string> {
  const key = BigInt(MIGRATION_LOCK_KEY);
  const { rows } = await client.query<{ pid: number; app: string | null; addr: string | null; since: Date | null }>(
    `SELECT a.pid, a.application_name AS app, a.client_addr::text AS addr, a.backend_start AS since
       FROM pg_locks l JOIN pg_stat_activity a USING (pid)
      WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2 LIMIT 1`,
    [Number(key >> 32n), Number(key & 0xffffffffn)],
  );
  const holder = rows[0];
  if (!holder) return 'the holder has just finished';
  return `held by server pid ${holder.pid} (${holder.app || 'unknown application'}${holder.addr ? ` from ${holder.addr}` : ''}, connected since ${holder.since?.toISOString() ?? '?'})`;
}
