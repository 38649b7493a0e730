/**
 * pg_dump's stderr on a TimescaleDB database always carries a few benign messages (DESIGN
 * section 5): circular foreign keys among TimescaleDB's own catalog tables, and "no data will be
 * copied" for a hypertable's parent (its rows live in the chunks). Those are counted; anything
 * else on stderr fails the backup, because a dump that complained may not restore.
 */

/** TimescaleDB catalog tables pg_dump reports circular foreign keys for. */
const TIMESCALE_CATALOG_TABLES = new Set(['hypertable', 'chunk', 'continuous_agg', 'dimension', 'chunk_constraint', 'compression_settings', 'hypertable_compression']);

export type NoticeKind = 'circular-foreign-keys' | 'hypertable-no-data';

export interface NoticeTally {
  /** Benign messages seen, by kind. */
  allowed: Partial<Record<NoticeKind, number>>;
  /** Messages that fail the backup, one line each (continuation lines joined with " / "). */
  unexpected: string[];
}

/** A line that starts a new message, as opposed to its detail/hint/context lines. */
const STARTS_MESSAGE = /^(pg_dump: )?(warning|error|notice|fatal|panic|log|info):/i;
const CONTINUES = /^(pg_dump: )?(detail|hint|context|location):|^\s/i;

function splitMessages(stderr: string): string[][] {
  const messages: string[][] = [];
  for (const raw of stderr.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const last = messages[messages.length - 1];
    if (last && CONTINUES.test(line) && !STARTS_MESSAGE.test(line)) last.push(line.trim());
    else messages.push([line.trim()]);
  }
  return messages;
}

function kindOf(message: string[]): NoticeKind | undefined {
  const head = message[0]!;
  if (/warning: there are circular foreign-key constraints (on this table|among these tables):$/i.test(head)) {
    const tables = message.filter((l) => /^(pg_dump: )?detail:/i.test(l)).flatMap((l) => l.replace(/^(pg_dump: )?detail:\s*/i, '').split(/\s*,\s*/));
    return tables.length > 0 && tables.every((t) => TIMESCALE_CATALOG_TABLES.has(t)) ? 'circular-foreign-keys' : undefined;
  }
  if (/notice:\s+hypertable data are in the chunks, no data will be copied$/i.test(head)) return 'hypertable-no-data';
  return undefined;
}

/** Sorts pg_dump's stderr into benign notices (counted) and everything else. */
export function classifyDumpStderr(stderr: string): NoticeTally {
  const tally: NoticeTally = { allowed: {}, unexpected: [] };
  for (const message of splitMessages(stderr)) {
    const kind = kindOf(message);
    if (kind) tally.allowed[kind] = (tally.allowed[kind] ?? 0) + 1;
    else tally.unexpected.push(message.join(' / '));
  }
  return tally;
}
