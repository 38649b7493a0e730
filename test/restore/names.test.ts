import { describe, expect, test } from 'vitest';
import { checkDatabaseName, derivedName, libpqDbname, restoreNames, restoreStamp, MAX_IDENTIFIER_BYTES } from '../../ops/lib/targets/names.js';
import { isOpsError } from '../../ops/lib/errors.js';

const at = new Date('2026-11-20T10:00:05.123Z');

describe('restore names', () => {
  test('stamp is UTC, sortable and needs no quoting', () => {
    expect(restoreStamp(at)).toBe('20261120_100005');
  });

  test('scratch and previous names of a restore and a drill', () => {
    expect(restoreNames('aetherlens', 'restore', at)).toEqual({ stamp: '20261120_100005', scratch: 'aetherlens_restore_20261120_100005', previous: 'aetherlens_pre_restore_20261120_100005' });
    expect(restoreNames('aetherlens', 'drill', at).scratch).toBe('aetherlens_drill_20261120_100005');
  });

  test('a long name is shortened, never the stamp, and never past 63 bytes (even with multibyte characters)', () => {
    const long = 'ä'.repeat(40); // 80 bytes
    const name = derivedName(long, '_pre_restore_20261120_100005');
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(MAX_IDENTIFIER_BYTES);
    expect(name.endsWith('_pre_restore_20261120_100005')).toBe(true);
    expect(name.startsWith('ää')).toBe(true);
    expect(name).not.toContain('\uFFFD');
  });

  test('names with quotes, spaces and semicolons are accepted as they are', () => {
    expect(checkDatabaseName(`we"ird name; DROP DATABASE x`, '--into')).toBe(`we"ird name; DROP DATABASE x`);
  });

  test.each([
    ['', '--into is empty: give the name of a database'],
    ['a\0b', '--into contains a NUL byte, which no PostgreSQL database name can hold: choose another name'],
    ['x'.repeat(64), '--into "xxxxxxxxxxxxxxxxxxxx…" is 64 bytes long; PostgreSQL keeps only 63: choose a shorter name'],
  ])('refused: %j', (name, message) => {
    let error: unknown;
    try {
      checkDatabaseName(name, '--into');
    } catch (e) {
      error = e;
    }
    expect(isOpsError(error) && error.exitCode).toBe(2);
    expect((error as Error).message).toBe(message);
  });

  test('pg_restore gets the name as a quoted libpq value, never as a connection string', () => {
    expect(libpqDbname('postgres://evil@host/db')).toBe(`dbname='postgres://evil@host/db'`);
    expect(libpqDbname(`it's a \\ name`)).toBe(`dbname='it\\'s a \\\\ name'`);
  });
});
