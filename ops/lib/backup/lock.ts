import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isOpsError, OpsError } from '../errors.js';
import { acquireLock, readLockOwner, type HeldLock, type LockOwner } from '../fileLock.js';
import type { BackupLockKey } from '../targets/types.js';

/** One lock per target and backup directory, kept in that directory (dot-named, so not a backup). */
export function backupLockPath(dir: string, target: BackupLockKey): string {
  const key = createHash('sha256').update(`${target.kind}\n${target.label}`).digest('hex').slice(0, 12);
  return join(dir, `.backup-${key}`);
}

const describe = (owner: LockOwner) => `backup already running (pid ${owner.pid || 'unknown'}, since ${owner.since}): wait for it to finish`;

/**
 * Takes the backup lock or fails with "backup already running (pid …, since …)". The kernel frees
 * a killed holder's lock at once (fileLock.ts).
 */
export async function acquireBackupLock(dir: string, target: BackupLockKey): Promise<HeldLock> {
  const path = backupLockPath(dir, target);
  try {
    return await acquireLock(path, { command: 'backup', details: { target: target.label }, describe });
  } catch (error) {
    if (!isOpsError(error) || error.code !== 'LOCK_HELD' || !error.message.includes('(pid unknown')) throw error;
    // Two runs started together: the winner writes its owner file a moment after taking the lock.
    for (let i = 0; i < 20; i++) {
      await sleep(50);
      const owner = await readLockOwner(path);
      if (owner) throw new OpsError('LOCK_HELD', describe(owner));
    }
    throw error;
  }
}
