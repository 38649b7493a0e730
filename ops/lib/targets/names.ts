import { OpsError } from '../errors.js';

/** PostgreSQL truncates longer identifiers silently (NAMEDATALEN - 1 bytes); we never let it. */
export const MAX_IDENTIFIER_BYTES = 63;

/** What a database (or embedded data directory) made by a restore is for. */
export type ScratchPurpose = 'drill' | 'restore';

/** "20261125_062613": UTC, sortable, and made only of characters that need no quoting. */
export function restoreStamp(now: Date = new Date()): string {
  return now.toISOString().replace(/\.\d+Z$/, '').replace(/-|:/g, '').replace('T', '_');
}

const bytes = (text: string) => Buffer.byteLength(text, 'utf8');

/** The longest prefix of `text` that fits in `limit` UTF-8 bytes, never splitting a character. */
function fitBytes(text: string, limit: number): string {
  let out = '';
  for (const char of text) {
    if (bytes(out + char) > limit) break;
    out += char;
  }
  return out;
}

/**
 * `<db><suffix>`, shortening the database's part when the whole would pass 63 bytes: PostgreSQL
 * would otherwise cut the timestamp off, and two restores could then pick the same name.
 */
export function derivedName(database: string, suffix: string): string {
  return `${fitBytes(database, MAX_IDENTIFIER_BYTES - bytes(suffix))}${suffix}`;
}

/** The names one restore or drill uses; all share one timestamp. */
export interface RestoreNames {
  stamp: string;
  /** Where the dump is restored and checked: `<db>_restore_<stamp>` or `<db>_drill_<stamp>`. */
  scratch: string;
  /** What the live database is renamed to when a restore swaps it out. */
  previous: string;
}

export function restoreNames(database: string, purpose: ScratchPurpose, now: Date = new Date()): RestoreNames {
  const stamp = restoreStamp(now);
  return {
    stamp,
    scratch: derivedName(database, `_${purpose}_${stamp}`),
    previous: derivedName(database, `_pre_restore_${stamp}`),
  };
}

/**
 * Accepts any name PostgreSQL can hold: quotes, spaces and semicolons are fine because names reach
 * SQL only through quoteIdent and reach tools only as a quoted libpq value. Refused: an empty
 * name, a NUL byte (libpq cannot pass it), and a name PostgreSQL would silently truncate.
 */
export function checkDatabaseName(name: string, setting: string): string {
  if (name.length === 0) throw new OpsError('USAGE', `${setting} is empty: give the name of a database`);
  if (name.includes('\0')) throw new OpsError('USAGE', `${setting} contains a NUL byte, which no PostgreSQL database name can hold: choose another name`);
  if (bytes(name) > MAX_IDENTIFIER_BYTES) {
    throw new OpsError('USAGE', `${setting} "${name.slice(0, 20)}…" is ${bytes(name)} bytes long; PostgreSQL keeps only ${MAX_IDENTIFIER_BYTES}: choose a shorter name`);
  }
  return name;
}

/**
 * A libpq connection string naming only the database, for `pg_restore -d`: a bare name that
 * contains "=" or starts with "postgres://" would be read as a connection string by the tool.
 * Host, user and password still come from the environment (PGHOST, PGUSER, PGPASSWORD).
 */
export function libpqDbname(name: string): string {
  return `dbname='${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
