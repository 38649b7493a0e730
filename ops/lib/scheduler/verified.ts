import { listCatalog } from '../backup/catalog.js';
import type { VerifiedBackup } from './status.js';

/** The newest backup in the catalog that passed a drill: what catch-up and `status --backups` count from. */
export async function lastVerifiedBackup(backupDir: string): Promise<VerifiedBackup | undefined> {
  const newest = (await listCatalog(backupDir)).filter((e) => e.status === 'verified').at(-1);
  if (!newest) return undefined;
  const v = newest.manifest?.verification;
  const restoreSeconds = typeof v?.restoreSeconds === 'number' ? v.restoreSeconds : v?.seconds;
  return {
    name: newest.id,
    createdAt: newest.createdAt,
    ...(v ? { verifiedAt: v.verifiedAt } : {}),
    ...(newest.manifest ? { bytes: newest.manifest.dump.bytes } : {}),
    ...(restoreSeconds !== undefined ? { restoreSeconds } : {}),
  };
}
