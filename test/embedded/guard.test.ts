import { describe, expect, test } from 'vitest';
import { mayNeedRefusal, refuseStatement } from '../../ops/lib/embedded/guard.js';

const verdict = async (sql: string) => (await refuseStatement(Buffer.from(sql)))?.message.split(':')[0] ?? 'runs';
const STDIN = 'COPY FROM STDIN is not supported by the embedded engine';
const BLOB = "COPY with '/dev/blob' works only inside the process that runs the embedded engine";
const ENCODING = 'the embedded engine converts no encodings';

describe('statements the engine cannot survive, as PostgreSQL 17 parses them', () => {
  test.each([
    ['copy t from stdin', STDIN],
    ['/* x */ copy t from stdin', STDIN],
    ['CoPy t FrOm StDiN', STDIN],
    ['-- a comment\ncopy t from stdin;', STDIN],
    ['select 1; copy t (x) from stdin with (format csv)', STDIN],
    ["select 'x\\''; copy t from stdin; --'", STDIN], // with standard_conforming_strings off
    ["copy t from '/dev/blob'", BLOB],
    ["copy t to '/dev/blob'", BLOB],
    ["set client_encoding = 'LATIN1'", ENCODING],
    ["SET NAMES 'sjis'", ENCODING],
    [`SET "CLIENT_ENCODING" TO latin1`, ENCODING],
    [`SET U&"client\\005fencoding" TO latin1`, ENCODING],
    ['alter database template1 set client_encoding = latin1', ENCODING],
    [`select set_config(E'\\143lient_encoding', 'LATIN1', false)`, ENCODING],
    ['copy t to stdout', 'runs'],
    ['copy (select 1) to stdout', 'runs'],
    ["select 'copy t from stdin'", 'runs'],
    ['select 1 -- copy t from stdin', 'runs'],
    ["select E'x\\'; copy t from stdin; --'", 'runs'],
    ["set client_encoding = 'UTF8'", 'runs'],
    ['reset client_encoding', 'runs'],
    ['select * from copy_log', 'runs'],
    ['selec copy', 'runs'], // a syntax error: the engine refuses it itself
  ])('%s: %s', async (sql, expected) => {
    expect(await verdict(sql)).toBe(expected);
  });

  test('text without the words involved is not parsed at all', () => {
    expect(mayNeedRefusal(Buffer.from(`SELECT time_bucket('1 hour', time), avg(power_deciwatts) FROM metrics WHERE device_id = $1 GROUP BY 1`))).toBe(false);
    expect(mayNeedRefusal(Buffer.from('select 1; COPY t from stdin'))).toBe(true);
  });
});
