import { describe, expect, it } from 'vitest';
import { loadInitScripts, loadMigrations } from '../../ops/lib/migrations/files.js';

// Pure checks of the migration files themselves: headers, the index inventory, and what the
// embedded engine's socket can carry. The live suites check what the files do.

const files = await loadMigrations();

/** Every CREATE INDEX statement (text up to its semicolon), with the comment line above it. */
function createIndexStatements(sql: string): { name: string; statement: string; commentAbove: string }[] {
  const lines = sql.split('\n');
  const out: { name: string; statement: string; commentAbove: string }[] = [];
  lines.forEach((line, i) => {
    const m = /^CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)/i.exec(line);
    if (!m) return;
    let statement = '';
    for (let j = i; j < lines.length && !statement.includes(';'); j++) statement += `${lines[j]}\n`;
    out.push({ name: m[1]!, statement, commentAbove: lines[i - 1] ?? '' });
  });
  return out;
}

describe('migration files', () => {
  it('are 001-006, each opening with a comment block that names it', () => {
    expect(files.map((f) => f.fileName)).toMatchInlineSnapshot(`
      [
        "001_initial_schema.sql",
        "002_hypertables.sql",
        "003_performance_indexes.sql",
        "004_continuous_aggregates.sql",
        "005_compression.sql",
        "006_retention_policies.sql",
      ]
    `);
    for (const f of files) expect(f.sql.startsWith(`-- ${f.fileName.replace(/\.sql$/, '')}: `)).toBe(true);
  });

  it('mark exactly the community-only files, and none needs to run outside a transaction', () => {
    expect(files.filter((f) => f.requiresCommunity).map((f) => f.version)).toEqual([4, 5, 6]);
    expect(files.filter((f) => f.noTransaction)).toEqual([]);
  });

  it('create exactly 31 named, commented indexes, none with a non-immutable predicate', () => {
    const indexes = files.flatMap((f) => createIndexStatements(f.sql).map((i) => ({ ...i, file: f.version })));
    expect(indexes).toHaveLength(31);
    expect(new Set(indexes.map((i) => i.name)).size).toBe(31);
    for (const i of indexes) {
      expect(i.name, i.name).toMatch(/^idx_[a-z0-9_]+$/);
      expect(i.commentAbove, `${i.name} needs a comment naming its query`).toMatch(/^--\s+\S/);
      expect(i.statement, i.name).not.toMatch(/now\(\)|current_(timestamp|date|time)|localtimestamp|clock_timestamp|random\(\)/i);
    }
    expect(Object.fromEntries([1, 2, 3, 4].map((v) => [v, indexes.filter((i) => i.file === v).length]))).toEqual({ 1: 4, 2: 2, 3: 19, 4: 6 });
  });

  it('stay small enough for the embedded engine (pglite-socket crashes on messages over ~64 KB)', () => {
    for (const f of files) expect(Buffer.byteLength(f.sql), f.fileName).toBeLessThan(48_000);
  });

  it('use no psql meta-commands', async () => {
    const init = await loadInitScripts();
    for (const sql of [...files.map((f) => f.sql), ...init.map((f) => f.sql)]) expect(sql).not.toMatch(/^\s*\\/m);
  });

  it('include the init script that enables the extension idempotently', async () => {
    const init = await loadInitScripts();
    expect(init.map((f) => f.fileName)).toEqual(['01-enable-timescaledb.sql']);
    expect(init[0]!.sql).toMatch(/^CREATE EXTENSION IF NOT EXISTS timescaledb;$/m);
  });
});
