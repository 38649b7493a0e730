import type pg from 'pg';
import { loadMigrations, type MigrationFile } from '../../ops/lib/migrations/files.js';

/**
 * Test-only stand-in for the migration runner, for the embedded engine opened by openTestEngine():
 * its one session belongs to the test's client, and the runner would open sessions of its own.
 * Applies migrations/versions in order, each file as one query inside BEGIN/COMMIT (files marked
 * `-- transaction: none` are sent bare). No ledger, no locks, no statement splitting. Native
 * suites use the runner itself (`migrate()`).
 */
export async function applyMigrations(
  client: pg.Client,
  options: { through?: number; communityFeatures?: boolean } = {},
): Promise<MigrationFile[]> {
  const files = (await loadMigrations()).filter(
    (f) => f.version <= (options.through ?? Number.MAX_SAFE_INTEGER) && (options.communityFeatures !== false || !f.requiresCommunity),
  );
  for (const file of files) {
    if (file.noTransaction) {
      await client.query(file.sql);
      continue;
    }
    await client.query('BEGIN');
    try {
      await client.query(file.sql);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw new Error(`${file.fileName}: ${(error as Error).message}`, { cause: error });
    }
  }
  return files;
}
