import { listCatalog, type CatalogEntry } from '../backup/catalog.js';

/**
 * The newest backup of this target that was taken at TimescaleDB `version` and has passed a
 * drill: the one an upgrade may rely on. Backups of other targets or versions do not count, since
 * only a dump taken at the version being left restores faithfully on it.
 */
export async function drilledBackupAt(backupDir: string, targetLabel: string, version: string): Promise<CatalogEntry | undefined> {
  const entries = await listCatalog(backupDir).catch(() => [] as CatalogEntry[]);
  return entries
    .filter((e) => e.status === 'verified' && e.manifest?.target.label === targetLabel && e.manifest.versions.timescaledb === version)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
}
