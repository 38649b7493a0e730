import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/** The resolver: the one module of ops/lib that reads the process environment. */
const RESOLVER = 'ops/lib/config.ts';

const KNOWN_REMAINING: string[] = [];

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(join(ROOT, dir), { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && /\.(ts|mts|js|mjs)$/.test(e.name)).map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** Every `process.env` in a file, as file:line, comments included (a comment naming it is worth a look). */
async function processEnvReads(files: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const file of files) {
    // A moved or deleted file reads nothing (and must then leave the allowlist).
    const text = await readFile(join(ROOT, file), 'utf8').catch(() => '');
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      if (/\bprocess\s*\.\s*env\b|\bprocess\s*\[\s*['"]env['"]\s*\]/.test(line)) found.push(`${file}:${i + 1}`);
    });
  }
  return found;
}

describe('the environment is read in one place', () => {
  test('ops/lib and ops/commands read process.env only in the resolver', async () => {
    const files = [...(await sources('ops/lib')), ...(await sources('ops/commands'))];
    const reads = await processEnvReads(files);
    const outside = reads.filter((r) => ![RESOLVER, ...KNOWN_REMAINING].includes(r.replace(/:\d+$/, '')));
    expect(outside).toEqual([]);
    expect(reads.some((r) => r.startsWith(`${RESOLVER}:`))).toBe(true);
  });

  test('the temporary allowlist names only files that still read it', async () => {
    const reads = await processEnvReads(KNOWN_REMAINING);
    const stillReading = new Set(reads.map((r) => r.replace(/:\d+$/, '')));
    // A file that no longer reads process.env must leave the list, so the list only shrinks.
    expect(KNOWN_REMAINING.filter((f) => !stillReading.has(f))).toEqual([]);
  });
});
