import { hostname } from 'node:os';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import lockfile from 'proper-lockfile';
import { OpsError } from './errors.js';

/** Who holds a lock: written beside it so a second run can name the first. */
export interface LockOwner {
  pid: number;
  host: string;
  since: string;
  command: string;
  /** Free-form details, e.g. the port `local serve` listens on. */
  [key: string]: unknown;
}

/** A holder that stops refreshing its lock for this long is considered dead (proper-lockfile). */
const STALE_MS = 5_000;

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function ownerPath(path: string): string {
  return `${path}.owner.json`;
}

export async function readLockOwner(path: string): Promise<LockOwner | undefined> {
  try {
    return JSON.parse(await readFile(ownerPath(path), 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

/** Whether someone holds the lock right now, and who. */
export async function lockHolder(path: string): Promise<LockOwner | undefined> {
  const locked = await lockfile.check(path, { realpath: false, stale: STALE_MS }).catch(() => false);
  return locked ? ((await readLockOwner(path)) ?? { pid: 0, host: '?', since: '?', command: '?' }) : undefined;
}

export interface HeldLock {
  owner: LockOwner;
  release(): Promise<void>;
}

/**
 * Takes an exclusive lock on `path` (a file or directory that need not exist). A live holder
 * makes this fail at once with `describe(owner)`; a holder that died (kill -9) stops refreshing
 * the lock and it is taken over once stale, which proper-lockfile does atomically.
 */
export async function acquireLock(
  path: string,
  options: { command: string; details?: Record<string, unknown>; describe: (owner: LockOwner) => string },
): Promise<HeldLock> {
  await mkdir(dirname(path), { recursive: true });
  const owner: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString(), command: options.command, ...options.details };
  const attempt = () =>
    lockfile.lock(path, {
      realpath: false,
      stale: STALE_MS,
      update: STALE_MS / 2,
      onCompromised: () => {
        // Someone removed our lock: keep running (stopping mid-write would leave partial files).
      },
    });
  let release: () => Promise<void>;
  try {
    release = await attempt();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw new OpsError('LOCK_HELD', `cannot create the lock ${path}.lock: ${(error as Error).message}`, { cause: error });
    const holder = await readLockOwner(path);
    const deadHere = holder && holder.host === hostname() && !isProcessAlive(holder.pid);
    if (!deadHere) throw new OpsError('LOCK_HELD', options.describe(holder ?? { pid: 0, host: '?', since: 'unknown', command: '?' }));
    // The holder died without unlocking: wait until the lock is stale, then take it over.
    release = await lockfile.lock(path, { realpath: false, stale: STALE_MS, update: STALE_MS / 2, retries: { retries: 20, minTimeout: 500, maxTimeout: 500 }, onCompromised: () => {} });
  }
  await writeFile(ownerPath(path), `${JSON.stringify(owner)}\n`, { mode: 0o600 });
  return {
    owner,
    async release() {
      await rm(ownerPath(path), { force: true });
      await release().catch(() => {});
    },
  };
}
