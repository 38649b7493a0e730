import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { OpsError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { quoteIdent, quoteLiteral } from '../../pg.js';
import { derivedName } from '../names.js';
import { databaseExists } from '../maintenance.js';
import { describeSession, type LiveSession, type SwapResult } from '../restoreSite.js';

/** Client sessions on `database` other than ours (background workers are not anybody's session). */
export async function listSessions(client: pg.Client, database: string): Promise<LiveSession[]> {
  const { rows } = await client.query<{ pid: number; usename: string | null; application_name: string; client_addr: string | null; state: string | null; since: string | null }>(
    `SELECT pid, usename, application_name, client_addr::text, state, backend_start::text AS since
       FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'
      ORDER BY backend_start`, [database]);
  return rows.map((r) => ({
    pid: r.pid,
    user: r.usename ?? '?',
    application: r.application_name || '?',
    clientAddress: r.client_addr ?? 'local socket',
    state: r.state ?? '?',
    since: r.since ?? '?',
  }));
}

async function terminate(client: pg.Client, database: string, clientsOnly: boolean): Promise<void> {
  await client.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()${clientsOnly ? ` AND backend_type = 'client backend'` : ''}`, [database]);
}

/**
 * A stored setting's value as ALTER DATABASE SET takes it back. A list (search_path = "$user",
 * public) is stored in its SQL form and must be given back as a list, not as one quoted string;
 * anything else is a literal.
 */
export function settingValue(stored: string): string {
  return stored.includes(',') && /^\s*(?:"(?:[^"]|"")*"|[\w$.-]+)(?:\s*,\s*(?:"(?:[^"]|"")*"|[\w$.-]+))*\s*$/.test(stored) ? stored : quoteLiteral(stored);
}

/**
 * What the replaced database had that a dump does not carry (pg_dump without --create): owner,
 * comment, privileges and per-database settings. Applied to the restored one inside the swap.
 */
async function carryOverStatements(client: pg.Client, from: string, to: string): Promise<string[]> {
  const db = (await client.query<{ owner: string; comment: string | null; has_acl: boolean; conn_limit: number }>(
    `SELECT pg_get_userbyid(datdba) AS owner, shobj_description(oid, 'pg_database') AS comment, datacl IS NOT NULL AS has_acl, datconnlimit AS conn_limit
       FROM pg_database WHERE datname = $1`, [from])).rows[0]!;
  const target = quoteIdent(to);
  const out = [`ALTER DATABASE ${target} OWNER TO ${quoteIdent(db.owner)}`, `COMMENT ON DATABASE ${target} IS ${db.comment === null ? 'NULL' : quoteLiteral(db.comment)}`];
  if (db.conn_limit !== -1) out.push(`ALTER DATABASE ${target} CONNECTION LIMIT ${Number(db.conn_limit)}`);
  if (db.has_acl) {
    out.push(`REVOKE ALL ON DATABASE ${target} FROM PUBLIC`);
    const grants = (await client.query<{ grantee: string | null; privilege: string; grantable: boolean }>(
      `SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END AS grantee, a.privilege_type AS privilege, a.is_grantable AS grantable
         FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = $1`, [from])).rows;
    for (const g of grants) out.push(`GRANT ${g.privilege} ON DATABASE ${target} TO ${g.grantee === null ? 'PUBLIC' : quoteIdent(g.grantee)}${g.grantable ? ' WITH GRANT OPTION' : ''}`);
  }
  const settings = (await client.query<{ setting: string }>(
    `SELECT unnest(s.setconfig) AS setting FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1 AND s.setrole = 0`, [from])).rows;
  for (const { setting } of settings) {
    const at = setting.indexOf('=');
    const name = setting.slice(0, at);
    // Restoring mode is ours to manage; every other setting goes along with the database.
    if (name === 'timescaledb.restoring') continue;
    out.push(`ALTER DATABASE ${target} SET ${quoteIdent(name)} = ${settingValue(setting.slice(at + 1))}`);
  }
  return out;
}

/** SQL that undoes a swap and that drops the kept database, as a person would type it in psql. */
export function swapInstructions(live: string, previous: string, stamp: string): { rollback: string[]; drop: string[] } {
  const restoredAside = derivedName(live, `_restored_${stamp}`);
  return {
    rollback: [
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN (${quoteLiteral(live)}, ${quoteLiteral(previous)});`,
      `ALTER DATABASE ${quoteIdent(live)} RENAME TO ${quoteIdent(restoredAside)};`,
      `ALTER DATABASE ${quoteIdent(previous)} RENAME TO ${quoteIdent(live)};`,
    ],
    drop: [`DROP DATABASE ${quoteIdent(previous)} WITH (FORCE);`],
  };
}

/**
 * Swaps the restored database in: `live` becomes `previous` and `scratch` becomes `live`, in one
 * transaction, so applications find either the old database or the restored one under the name,
 * never nothing. Sessions on `live` are refused unless `force`, which ends them first; a session
 * that slips in between is ended and the swap retried. The live database is never made
 * unconnectable, so an interruption at any point leaves it usable.
 */
export async function swapDatabases(
  client: pg.Client,
  options: { live: string; scratch: string; previous: string; stamp: string; force: boolean; logger: Logger; backupId: string; stepsWhere: string },
): Promise<SwapResult> {
  const { live, scratch, previous, logger } = options;
  const scratchId = quoteIdent(scratch);
  if (!(await databaseExists(client, live))) {
    await terminate(client, scratch, false);
    await client.query('BEGIN');
    try {
      await client.query(`ALTER DATABASE ${scratchId} RENAME TO ${quoteIdent(live)}`);
      await client.query(`COMMENT ON DATABASE ${quoteIdent(live)} IS NULL`);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw new OpsError('RESTORE', `could not rename the restored database to "${live}": ${(error as Error).message}`, { cause: error });
    }
    return { live, stepsWhere: options.stepsWhere, rollback: [], drop: [], terminated: [] };
  }
  const sessions = await listSessions(client, live);
  if (sessions.length > 0 && !options.force) {
    throw new OpsError('RESTORE', `${sessions.length} session(s) are connected to "${live}": ${sessions.map(describeSession).join('; ')}; stop the application, or run again with --force to end them; nothing was changed`);
  }
  // Read from the database being replaced; applied after the renames, when the copy has its name.
  const carry = await carryOverStatements(client, live, live);
  const note = `aetherlens-db: "${live}" as it was before backup ${options.backupId} was restored at ${new Date().toISOString()}; drop it with DROP DATABASE once the restored one is trusted`;
  for (let attempt = 1; ; attempt++) {
    if (options.force) await terminate(client, live, true);
    // Our own sessions on the copy are closed; what is left there are background workers.
    await terminate(client, scratch, false);
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL lock_timeout = '10s'`);
      await client.query(`ALTER DATABASE ${quoteIdent(live)} RENAME TO ${quoteIdent(previous)}`);
      await client.query(`ALTER DATABASE ${scratchId} RENAME TO ${quoteIdent(live)}`);
      for (const statement of carry) await client.query(statement);
      await client.query(`COMMENT ON DATABASE ${quoteIdent(previous)} IS ${quoteLiteral(note)}`);
      await client.query('COMMIT');
      break;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      const busy = /is being accessed by other users/.test((error as Error).message);
      if (!busy || attempt >= 5) {
        throw new OpsError('RESTORE', `could not swap the restored database in (${(error as Error).message}); "${live}" was not changed${busy ? ': stop the application (or use --force) and run the restore again' : ''}`, { cause: error });
      }
      logger.warn(`a new session reached "${live}" during the swap; ending it and trying again (${attempt}/5)`);
      await sleep(200 * attempt);
    }
  }
  const steps = swapInstructions(live, previous, options.stamp);
  return { live, previous, stepsWhere: options.stepsWhere, ...steps, terminated: options.force ? sessions : [] };
}
