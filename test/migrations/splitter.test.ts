import { describe, expect, test } from 'vitest';
import { mustRunOutsideTransaction, splitStatements, SqlSyntaxError } from '../../ops/lib/migrations/splitter.js';

describe('splitStatements (PostgreSQL grammar)', () => {
  test('never splits inside dollar quotes, strings or comments, and reports each statement line', async () => {
    const sql = [
      '-- héllo — a comment with ; and non-ASCII',
      'CREATE TABLE a (x int); /* block ; comment */',
      'DO $body$',
      'BEGIN',
      "  RAISE NOTICE 'semi;colon';",
      'END $body$;',
      "SELECT 'a;b', E'c\\';d'",
    ].join('\n');
    const statements = await splitStatements(sql);
    expect(statements.map((s) => [s.line, s.sql])).toEqual([
      [2, 'CREATE TABLE a (x int)'],
      [3, "DO $body$\nBEGIN\n  RAISE NOTICE 'semi;colon';\nEND $body$"],
      [7, "SELECT 'a;b', E'c\\';d'"],
    ]);
  });

  test('a syntax error names the line and column of the token the parser stopped at', async () => {
    const sql = 'SELECT 1;\nDO $$ x;\n y $$;\n\n  SELECT 2 FRM x;\nSELECT 3;';
    const error = await splitStatements(sql).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SqlSyntaxError);
    expect(error).toMatchObject({ message: 'syntax error at or near "x"', line: 5, column: 16, lineText: '  SELECT 2 FRM x;' });
  });

  test('an unterminated statement at the end of the file points at its start', async () => {
    const error = await splitStatements('SELECT 1;\nCREATE TABLE t (\n  id int,\n').catch((e: unknown) => e);
    expect(error).toMatchObject({ message: 'syntax error at end of input', line: 2 });
  });
});

describe('mustRunOutsideTransaction', () => {
  const kinds = async (sql: string) => (await splitStatements(sql)).map((s) => mustRunOutsideTransaction(s.node));
  test('continuous aggregates WITH DATA, refreshes, CONCURRENTLY and VACUUM run outside; the rest inside', async () => {
    expect(await kinds(`
      CREATE MATERIALIZED VIEW v1 WITH (timescaledb.continuous) AS SELECT 1 WITH DATA;
      CREATE MATERIALIZED VIEW v2 WITH (timescaledb.continuous) AS SELECT 1 WITH NO DATA;
      CREATE MATERIALIZED VIEW v3 AS SELECT 1;
      CALL refresh_continuous_aggregate('v1', NULL, NULL);
      CALL other_procedure();
      CREATE INDEX CONCURRENTLY i1 ON t (x);
      CREATE INDEX i2 ON t (x);
      DROP INDEX CONCURRENTLY i1;
      VACUUM t;
      SELECT add_compression_policy('t', INTERVAL '7 days');
    `)).toEqual([true, false, false, true, false, true, false, true, true, false]);
  });
});
