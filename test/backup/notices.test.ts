import { describe, expect, it } from 'vitest';
import { classifyDumpStderr } from '../../ops/lib/index.js';

// Exactly what pg_dump 15 prints for a TimescaleDB database (captured from the native cluster, the
// same for 2.19 and 2.22.1).
const TIMESCALE_STDERR = ['hypertable', 'chunk', 'continuous_agg'].map((table) => [
  'pg_dump: warning: there are circular foreign-key constraints on this table:',
  `pg_dump: detail: ${table}`,
  'pg_dump: hint: You might not be able to restore the dump without using --disable-triggers or temporarily dropping the constraints.',
  'pg_dump: hint: Consider using a full dump instead of a --data-only dump to avoid this problem.',
].join('\n')).join('\n');

describe('pg_dump stderr allow-list', () => {
  it('counts the benign TimescaleDB notices', () => {
    const notice = 'pg_dump: NOTICE:  hypertable data are in the chunks, no data will be copied\nDETAIL:  Data for hypertables are stored in the chunks of a hypertable so COPY TO of a hypertable will not copy any data.\nHINT:  Use "COPY (SELECT * FROM <hypertable>) TO ..." to copy all data in hypertable, or copy each chunk individually.';
    expect(classifyDumpStderr(`${TIMESCALE_STDERR}\n${notice}\n`)).toEqual({ allowed: { 'circular-foreign-keys': 3, 'hypertable-no-data': 1 }, unexpected: [] });
    expect(classifyDumpStderr('')).toEqual({ allowed: {}, unexpected: [] });
  });

  it('fails anything else, including circular keys among user tables', () => {
    const tally = classifyDumpStderr([
      TIMESCALE_STDERR,
      'pg_dump: warning: there are circular foreign-key constraints on this table:',
      'pg_dump: detail: orders',
      'pg_dump: error: query failed: ERROR:  permission denied for table secrets',
      'pg_dump: warning: could not find where to insert IF EXISTS',
    ].join('\n'));
    expect(tally.allowed).toEqual({ 'circular-foreign-keys': 3 });
    expect(tally.unexpected).toEqual([
      'pg_dump: warning: there are circular foreign-key constraints on this table: / pg_dump: detail: orders',
      'pg_dump: error: query failed: ERROR:  permission denied for table secrets',
      'pg_dump: warning: could not find where to insert IF EXISTS',
    ]);
  });
});
