import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway migrations folder (versions/ + init/) holding exactly the given files. */
export async function migrationsFixture(versions: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'aetherlens-migrations-'));
  await mkdir(join(dir, 'versions'));
  await mkdir(join(dir, 'init'));
  await writeFile(join(dir, 'init', '01-enable-timescaledb.sql'), 'CREATE EXTENSION IF NOT EXISTS timescaledb;\n');
  for (const [name, sql] of Object.entries(versions)) await writeFile(join(dir, 'versions', name), sql);
  return dir;
}

export async function writeMigration(dir: string, name: string, sql: string): Promise<void> {
  await writeFile(join(dir, 'versions', name), sql);
}
