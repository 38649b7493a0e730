import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { createGunzip } from 'node:zlib';
import { OpsError } from '../../errors.js';
import { rolesInSql } from '../roles.js';
import { SqlStatementSplitter } from './sqlStatements.js';

/**
 * Statements per engine call are bounded by size, not count: a few MB keeps the copy the engine
 * makes of each call small, and is thousands of statements' worth of round trips saved.
 */
export const BATCH_CHARS = 4 * 1024 * 1024;

/** psql meta-commands newer pg_dumps write around the SQL (CVE-2025-8714); nothing to run. */
const HARMLESS_META = /^\\(?:un)?restrict(?:\s|$)/;
const COPY_FROM_STDIN = /^COPY\s[\s\S]*?\sFROM\s+stdin\s*;$/i;
const NAMES_ROLES = /^(?:ALTER|GRANT|REVOKE) /;

export interface SqlLoadOptions {
  /** A gzip-compressed plain SQL dump (pg_dump's plain format). */
  dumpPath: string;
  /** Runs whole statements, separated by newlines, as one call. */
  exec(sql: string): Promise<unknown>;
  /** Called before a batch that names roles (OWNER TO, GRANT, ...) not named before; creates the missing ones. */
  ensureRoles(roles: string[]): Promise<void>;
  signal?: AbortSignal;
  batchChars?: number;
}

export interface SqlLoadResult {
  statements: number;
  batches: number;
  /** Characters of SQL run. */
  chars: number;
}

const damaged = (dumpPath: string, why: string, cause?: unknown) =>
  new OpsError('RESTORE', `cannot read the dump ${basename(dumpPath)} (${why}): the file is damaged; use another backup`, { cause, details: { fault: 'backup' } });

const notOurs = (dumpPath: string, what: string) =>
  new OpsError('RESTORE', `the dump ${basename(dumpPath)} holds ${what}, which the embedded engine cannot load: it was not made by an embedded backup of aetherlens-db; use another backup`, { details: { fault: 'backup' } });

/**
 * Loads a gzip-compressed SQL dump into the engine as it is read: gunzip, split into statements
 * (sqlStatements.ts), run in batches of whole statements of about `batchChars`. Memory stays at
 * one batch and one read-ahead, whatever the dump's size. The roles a batch names are created
 * before it runs (they come early: OWNER TO follows each CREATE). The signal is checked between
 * batches. An unreadable gzip or SQL cut off inside a string is the backup's fault; what `exec`
 * throws is passed on as it is.
 */
export async function loadSqlDump(options: SqlLoadOptions): Promise<SqlLoadResult> {
  const limit = options.batchChars ?? BATCH_CHARS;
  const input = createReadStream(options.dumpPath, { highWaterMark: 1024 * 1024 });
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  input.on('error', (error) => gunzip.destroy(error));
  input.pipe(gunzip);
  gunzip.setEncoding('utf8');
  const chunks = gunzip[Symbol.asyncIterator]() as AsyncIterator<string>;
  const splitter = new SqlStatementSplitter();
  const known = new Set<string>();
  const result: SqlLoadResult = { statements: 0, batches: 0, chars: 0 };
  let batch: string[] = [];
  let batchChars = 0;
  let roles: string[] = [];

  const flush = async () => {
    if (batch.length === 0) return;
    if (options.signal?.aborted) throw new OpsError('ABORTED', 'interrupted');
    if (roles.length > 0) await options.ensureRoles(roles);
    const sql = batch.join('\n');
    batch = [];
    roles = [];
    batchChars = 0;
    await options.exec(sql);
    result.batches++;
    result.chars += sql.length;
  };
  const add = async (statement: string) => {
    if (statement.charCodeAt(0) === 0x5c) {
      if (HARMLESS_META.test(statement)) return;
      throw notOurs(options.dumpPath, `the psql command ${statement.split(/\s/)[0]}`);
    }
    if (/^copy\s/i.test(statement.slice(0, 5)) && COPY_FROM_STDIN.test(statement)) throw notOurs(options.dumpPath, 'COPY … FROM stdin data');
    if (NAMES_ROLES.test(statement.slice(0, 7))) {
      for (const role of rolesInSql(statement)) {
        if (known.has(role)) continue;
        known.add(role);
        roles.push(role);
      }
    }
    if (batchChars + statement.length > limit) await flush();
    batch.push(statement);
    batchChars += statement.length + 1;
    result.statements++;
  };

  try {
    for (;;) {
      let next: IteratorResult<string>;
      try {
        next = await chunks.next();
      } catch (error) {
        throw damaged(options.dumpPath, (error as Error).message, error);
      }
      if (next.done) break;
      for (const statement of splitter.push(next.value)) await add(statement);
    }
    let last: string[];
    try {
      last = splitter.end();
    } catch (error) {
      throw damaged(options.dumpPath, (error as Error).message, error);
    }
    for (const statement of last) await add(statement);
    await flush();
    return result;
  } finally {
    input.destroy();
    gunzip.destroy();
  }
}
