import { join, resolve } from 'node:path';
import { acquireLock, acquireSharedLock, type HeldLock, type LockOwner } from '../fileLock.js';
import type { Logger } from '../logger.js';

/*
 * One lock discipline for the catalog: whatever reads a backup to restore it (verify, restore)
 * holds the catalog lock shared, and rotate, the only thing that deletes backups, holds it
 * exclusively. Readers never block each other; rotation never deletes a backup being read. A
 * reader waits for a rotation (it only deletes files: seconds), rotate refuses at once while a
 * reader (a drill or restore: minutes) is there, naming it. Backups add folders and need no part.
 */

/** How long a reader waits for a running rotation before it gives up. */
export const READER_WAIT_MS = 60_000;

/** The catalog lock of a backup directory (the path rotation always locked, so versions agree). */
export function catalogLockPath(dir: string): string {
  return join(resolve(dir), '.rotate');
}

const who = (owner: LockOwner) => `pid ${owner.pid || 'unknown'}, since ${owner.since}`;

/** What a reader holding the lock is doing, for rotate's refusal. */
function describeReader(owner: LockOwner): string {
  const what = typeof owner.backup === 'string' ? `${owner.command} of backup ${owner.backup}` : owner.command;
  return `${what} (${who(owner)})`;
}

/**
 * Holds the catalog for reading (verify, restore) until release(); waits up to READER_WAIT_MS for
 * a running rotation, then refuses with the rotation named.
 */
export function readCatalog(dir: string, options: { command: string; backup?: string; logger?: Logger; waitMs?: number }): Promise<HeldLock> {
  return acquireSharedLock(catalogLockPath(dir), {
    command: options.command,
    ...(options.backup ? { details: { backup: options.backup } } : {}),
    waitMs: options.waitMs ?? READER_WAIT_MS,
    onWait: (owner) => options.logger?.info(`waiting for ${owner.command} (${who(owner)}) to finish with ${resolve(dir)}`),
    describe: (owner) => `${owner.command} (${who(owner)}) is deleting backups in ${resolve(dir)}: run ${options.command} again when it is done; nothing was changed`,
  });
}

/** Holds the catalog exclusively for deleting (rotate); refuses at once naming a reader or another rotation. */
export function deleteFromCatalog(dir: string): Promise<HeldLock> {
  return acquireLock(catalogLockPath(dir), {
    command: 'rotate',
    describe: (owner) => owner.command === 'rotate'
      ? `rotation already running (${who(owner)}): wait for it to finish`
      : `rotation refused: ${describeReader(owner)} is reading the backups in ${resolve(dir)}; run rotate again when it is done; nothing was deleted`,
  });
}
