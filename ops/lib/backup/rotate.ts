import { rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { silentLogger, type Logger } from '../logger.js';
import { fsyncDir } from '../atomicFile.js';
import { listCatalog } from './catalog.js';
import { catalogLockPath, deleteFromCatalog } from './catalogLock.js';
import { planRotation, type RetentionPolicy, type RotationPlan } from './rotation.js';
import { cleanAbandoned, DELETING_PREFIX, workName } from './staging.js';

/** Rotation's lock: the catalog lock, held exclusively (catalogLock.ts). */
export const rotationLockPath = catalogLockPath;

export interface RotateResult extends RotationPlan {
  dryRun: boolean;
  /** Ids actually deleted (empty on a dry run). */
  deleted: string[];
}

/**
 * Applies planRotation() to the backup directory, or only reports it with `dryRun`. Each backup is
 * first renamed to a .deleting-* name, then removed: a crash never leaves half a backup in the
 * catalog, and the next backup or rotate clears the rest.
 */
export async function rotate(options: { dir: string; policy: RetentionPolicy; dryRun?: boolean; logger?: Logger }): Promise<RotateResult> {
  const dir = resolve(options.dir);
  const logger = options.logger ?? silentLogger;
  if (options.dryRun) {
    const plan = planRotation(await listCatalog(dir), options.policy);
    return { ...plan, dryRun: true, deleted: [] };
  }
  const lock = await deleteFromCatalog(dir);
  try {
    await cleanAbandoned(dir, logger);
    const plan = planRotation(await listCatalog(dir), options.policy);
    const deleted: string[] = [];
    for (const id of plan.delete) {
      const doomed = join(dir, workName(DELETING_PREFIX, id));
      await rename(join(dir, id), doomed);
      await fsyncDir(dir);
      await rm(doomed, { recursive: true, force: true });
      deleted.push(id);
      logger.info(`deleted ${id}: ${plan.decisions.find((d) => d.id === id)!.reason}`);
    }
    return { ...plan, dryRun: false, deleted };
  } finally {
    await lock.release();
  }
}
