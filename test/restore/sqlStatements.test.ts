import { describe, expect, test } from 'vitest';
import { splitStatements } from '../../ops/lib/migrations/splitter.js';
import { splitSql, SqlStatementSplitter, sqlStatements, UnterminatedSqlError } from '../../ops/lib/targets/embedded/sqlStatements.js';

/** Feeds `chunks` one after another, as a stream would. */
function splitChunks(chunks: string[]): string[] {
  const splitter = new SqlStatementSplitter();
  return [...chunks.flatMap((c) => splitter.push(c)), ...splitter.end()];
}

/** Valid SQL with every way a `;` can be no statement's end (PostgreSQL parses it: see the oracle test). */
const TRICKY_STATEMENTS = [
  `SET standard_conforming_strings = on;`,
  `INSERT INTO t VALUES (1, 'a;b', 'it''s; fine', 'C:\\path\\'), (2, '''', '');`,
  `SELECT E'it\\'s; \\\\', e'x\\\\', E'doubled ''; quote', U&'d\\0061t;a';`,
  `CREATE TABLE "we;ird""name" ("col;" int, "x""" text);`,
  `CREATE FUNCTION f(int) RETURNS int AS $$ SELECT $1; $$ LANGUAGE sql;`,
  `CREATE FUNCTION g() RETURNS text AS $body$ BEGIN RETURN $$;$$ || $x$ ; $ $$ $x$; END $body$ LANGUAGE plpgsql;`,
  `SELECT a$b$c, $1 FROM t$x WHERE x = $2;`,
  `SELECT 1 -- a ; comment inside the statement\n + 2;`,
  `SELECT 3 /* one ; /* nested ; */ still ; */ + 4;`,
  `COMMENT ON TABLE t IS 'Ünïcödé; ☃ and 🐘;';`,
  `SELECT 5 - -6, 7 / 2, 8 */* a comment right after an operator */ 9;`,
];
const TRICKY = TRICKY_STATEMENTS.join('\n');

describe('the SQL statement splitter of embedded restores', () => {
  test('splits where PostgreSQL ends statements, and nowhere else', () => {
    expect(splitSql(TRICKY)).toEqual(TRICKY_STATEMENTS);
  });

  test("agrees with PostgreSQL's own grammar (libpg_query) on the same text", async () => {
    const oracle = (await splitStatements(TRICKY)).map((s) => s.sql);
    expect(splitSql(TRICKY).map((s) => s.slice(0, -1).trimEnd())).toEqual(oracle);
  });

  test('a statement cut at every offset into two chunks, and one character at a time', () => {
    for (let at = 0; at <= TRICKY.length; at++) {
      expect(splitChunks([TRICKY.slice(0, at), TRICKY.slice(at)]), `cut at ${at}: ${JSON.stringify(TRICKY.slice(Math.max(0, at - 10), at + 10))}`).toEqual(TRICKY_STATEMENTS);
    }
    expect(splitChunks([...TRICKY])).toEqual(TRICKY_STATEMENTS);
  });

  test('random chunkings, empty chunks included', () => {
    let seed = 20261201;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 300; round++) {
      const chunks: string[] = [];
      for (let at = 0; at < TRICKY.length;) {
        const size = Math.floor(random() * 12);
        chunks.push(TRICKY.slice(at, at + size));
        at += size;
      }
      expect(splitChunks(chunks)).toEqual(TRICKY_STATEMENTS);
    }
  });

  test('comments and blank lines between statements are dropped; a last statement without ; is kept', () => {
    expect(splitSql(`-- pg_dump header ; with a semicolon\n\n/* a /* nested */ block; */\nSELECT 1;;\n  ; -- trailing\nSELECT 2`)).toEqual(['SELECT 1;', 'SELECT 2']);
    expect(splitSql(`SELECT 1; -- the end`)).toEqual(['SELECT 1;']);
    expect(splitSql(` \n-- only a comment\n`)).toEqual([]);
  });

  test('standard strings take a backslash literally; E strings escape with it', () => {
    expect(splitSql(`SELECT 'a\\'; SELECT 2;`)).toEqual([`SELECT 'a\\';`, 'SELECT 2;']);
    expect(splitSql(`SELECT E'a\\'; SELECT 2;';`)).toEqual([`SELECT E'a\\'; SELECT 2;';`]);
    // An identifier ending in e followed by a quote is no E string (the lexer reads the identifier first).
    expect(splitSql(`SELECT type'x\\'; SELECT 2;`)).toEqual([`SELECT type'x\\';`, 'SELECT 2;']);
  });

  test('dollar quotes: the same tag closes, other tags and lone dollars do not', () => {
    expect(splitSql(`DO $a$ $b$ ; $b$ $$ ; $ ; $a$; SELECT 1;`)).toEqual([`DO $a$ $b$ ; $b$ $$ ; $ ; $a$;`, 'SELECT 1;']);
    expect(splitSql(`DO $$ $a$ ; $$; SELECT 1;`)).toEqual([`DO $$ $a$ ; $$;`, 'SELECT 1;']);
    // "$$a$" inside $a$ … : the lexer closes at the second $, as indexOf does.
    expect(splitSql(`DO $a$ x$$a$; SELECT 1;`)).toEqual([`DO $a$ x$$a$;`, 'SELECT 1;']);
  });

  test("psql meta-commands where a statement starts come out alone (pg_dump's \\restrict)", () => {
    expect(splitSql(`\\restrict Abc123\nSET x = 1;\n\\unrestrict Abc123\n`)).toEqual(['\\restrict Abc123', 'SET x = 1;', '\\unrestrict Abc123']);
  });

  test.each([
    [`SELECT 'abc`, 'a quoted string'],
    [`SELECT E'abc\\'`, "an E'' string"],
    [`SELECT "abc`, 'a quoted identifier'],
    [`DO $x$ BEGIN $$ END $y$`, 'a dollar-quoted body'],
    [`SELECT 1 /* a /* b */`, 'a /* comment'],
  ])('text that ends inside a string, body or comment is refused: %j', (text, inside) => {
    expect(() => splitSql(text)).toThrow(new UnterminatedSqlError(`the SQL ends inside ${inside}`));
  });

  test('holds only the statement in progress: a long run of statements never grows the buffer', () => {
    const splitter = new SqlStatementSplitter();
    let count = 0;
    let longest = 0;
    for (let i = 0; i < 20_000; i++) {
      // A statement cut in two, as a stream delivers it.
      const text = `INSERT INTO t VALUES (${i}, 'x;y');\n`;
      count += splitter.push(text.slice(0, 20)).length + splitter.push(text.slice(20)).length;
      longest = Math.max(longest, (splitter as unknown as { buf: string }).buf.length);
    }
    count += splitter.end().length;
    expect(count).toBe(20_000);
    expect(longest).toBeLessThan(80);
  });

  test('sqlStatements reads an async stream of chunks', async () => {
    async function* chunks() {
      for (let at = 0; at < TRICKY.length; at += 7) yield TRICKY.slice(at, at + 7);
    }
    const out: string[] = [];
    for await (const statement of sqlStatements(chunks())) out.push(statement);
    expect(out).toEqual(TRICKY_STATEMENTS);
  });
});
