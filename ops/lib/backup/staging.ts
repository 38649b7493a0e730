import { hostname } from 'node:os';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { writeFileAtomic } from '../atomicFile.js';
import { createPrivateDir } from './atomicWrite.js';
import { BACKUP_ID_PATTERN } from './catalog.js';

/** A backup being written: invisible to the catalog until published under its id. */
export const STAGING_PREFIX = '.partial-';
/** A backup being deleted by rotate: renamed first, so a crash never leaves half a backup visible. */
export const DELETING_PREFIX = '.deleting-';
const OWNER_FILE = 'owner.json';

const HOST = hostname().replace(/[^A-Za-z0-9.]+/g, '_');

interface StagingOwner {
  pid: number;
  host: string;
  since: string;
  /** The dump program, so a later run can stop it if we died and it did not. */
  toolPid?: number;
}

export interface Staging {
  path: string;
  recordToolPid(pid: number): Promise<void>;
  /** Removes the owner file before publishing (it is not part of a backup). */
  seal(): Promise<void>;
  remove(): Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The name of a work folder this process owns: PREFIX + id + host + pid, so leftovers can be told. */
export function workName(prefix: typeof STAGING_PREFIX | typeof DELETING_PREFIX, id: string): string {
  return `${prefix}${id}-${HOST}-${process.pid}`;
}

/** A private (0700) folder for one backup in progress, named after its id, host and our pid. */
export async function createStaging(dir: string, id: string): Promise<Staging> {
  const path = join(dir, workName(STAGING_PREFIX, id));
  await createPrivateDir(path);
  const owner: StagingOwner = { pid: process.pid, host: HOST, since: new Date().toISOString() };
  const ownerFile = join(path, OWNER_FILE);
  await writeFileAtomic(ownerFile, JSON.stringify(owner));
  return {
    path,
    recordToolPid: (pid) => writeFileAtomic(ownerFile, JSON.stringify({ ...owner, toolPid: pid })),
    seal: () => rm(ownerFile, { force: true }),
    remove: () => rm(path, { recursive: true, force: true }),
  };
}

/** A dump program we started that outlived us, recognised by its command line naming the folder. */
async function stopOrphan(toolPid: number | undefined, folder: string): Promise<boolean> {
  if (!toolPid || !isAlive(toolPid)) return false;
  const cmdline = await readFile(`/proc/${toolPid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.includes(folder)) return false;
  try {
    process.kill(toolPid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

/** The pid in a work folder's name (…-HOST-PID) when it was made on this host. */
function ownerPidOf(name: string): number | undefined {
  const m = /-(\d+)$/.exec(name);
  return m && name.includes(`-${HOST}-`) ? Number(m[1]) : undefined;
}

/**
 * Removes what interrupted runs on this host left behind: staging folders (stopping a dump
 * program still writing into one), half-deleted backups, and temporary manifest files. Only
 * leftovers of processes that are gone: another backup into the same directory may be running.
 * Returns the names removed.
 */
export async function cleanAbandoned(dir: string, logger: Logger): Promise<string[]> {
  const removed: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const name = entry.name;
    if (entry.isDirectory() && (name.startsWith(STAGING_PREFIX) || name.startsWith(DELETING_PREFIX))) {
      const pid = ownerPidOf(name);
      if (pid === undefined || isAlive(pid)) continue;
      const folder = join(dir, name);
      const owner = await readFile(join(folder, OWNER_FILE), 'utf8').then((t) => JSON.parse(t) as StagingOwner, () => undefined);
      if (await stopOrphan(owner?.toolPid, folder)) logger.warn(`stopped pg_dump (pid ${owner!.toolPid}) left running by an interrupted backup (pid ${pid})`);
      await rm(folder, { recursive: true, force: true });
      removed.push(name);
    } else if (entry.isDirectory() && BACKUP_ID_PATTERN.test(name)) {
      for (const file of await readdir(join(dir, name)).catch(() => [] as string[])) {
        const pid = /\.tmp-(\d+)$/.exec(file)?.[1];
        if (pid && !isAlive(Number(pid))) {
          await rm(join(dir, name, file), { force: true });
          removed.push(`${name}/${file}`);
        }
      }
    }
  }
  if (removed.length > 0) logger.info(`removed what interrupted runs left behind: ${removed.join(', ')}`);
  return removed;
}
