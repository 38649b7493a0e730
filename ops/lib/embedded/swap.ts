import { open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { fsyncDir } from '../atomicFile.js';
import { OpsError } from '../errors.js';
import { isProcessAlive, ownerPath } from '../fileLock.js';
import { embeddedPaths, FIRST_PGDATA, hasDatabase, PGDATA_NAME, POINTER_FILE } from './layout.js';

/*
 * Putting a restored PGDATA in place of the live one so that a kill -9 (or a power cut) at any
 * moment leaves one complete database live, never none and never an empty one made on the next
 * open. The data directory (the root) stays where it is, with its lock, stamp and password; the
 * restored PGDATA is renamed into it under a new name (the scratch directory is its sibling, so
 * one filesystem), then the pointer file is replaced by a fsynced temp file in one rename. Until
 * that rename the old PGDATA is live; from it on the new one is. The old PGDATA stays as it was,
 * for rollback. A moved-in PGDATA carries a marker with our pid until it is live, so an
 * interrupted swap's copy is provably ours and the next restore or drill removes it; nothing else
 * in the root is ever deleted.
 */

/** Inside a PGDATA being moved in: who moves it. Removed once the pointer names it. */
export const SWAP_MARKER = 'aetherlens-swap.json';

/** The points of a swap, in order, after each of which it may be interrupted. */
export const SWAP_STEPS = ['marked', 'moved', 'stamped', 'pointer-written', 'pointed', 'unmarked'] as const;
export type SwapStep = (typeof SWAP_STEPS)[number];

export interface SwapOwner {
  pid: number;
  host: string;
  since: string;
  backup: string;
}

const tempPointer = (root: string, pid = process.pid) => join(root, `${POINTER_FILE}.${pid}.tmp`);
const TEMP_POINTER = new RegExp(`^${POINTER_FILE}\\.(\\d+)\\.tmp$`);

async function writeSynced(path: string, text: string): Promise<void> {
  const handle = await open(path, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function readOwner(path: string): Promise<SwapOwner | undefined> {
  try {
    const owner = JSON.parse(await readFile(path, 'utf8')) as SwapOwner;
    return typeof owner.pid === 'number' && typeof owner.host === 'string' ? owner : undefined;
  } catch {
    return undefined;
  }
}

const deadHereAndNow = (owner: SwapOwner | undefined) => owner !== undefined && owner.host === hostname() && !isProcessAlive(owner.pid);

/**
 * Names `name` as the live PGDATA of `root`: written to a temp file, fsynced, renamed over the
 * pointer, and the root fsynced, so the pointer is always the old name or the new one.
 */
export async function writePointer(root: string, name: string, written?: () => Promise<void> | void): Promise<void> {
  if (!PGDATA_NAME.test(name)) throw new Error(`not a PGDATA name: ${name}`);
  const temp = tempPointer(root);
  await writeSynced(temp, `${name}\n`);
  await written?.();
  await rename(temp, join(root, POINTER_FILE));
  await fsyncDir(root);
}

/**
 * What interrupted swaps left in `root`: a moved-in PGDATA the pointer does not name whose
 * marker names a dead process of this host (removed), the marker of one the pointer does name
 * (only the marker is removed), and temp pointer files of dead processes. Anything without our
 * marker, of another host or of a live process is left alone. Returns what was removed.
 */
export async function cleanSwapLeftovers(root: string): Promise<{ path: string; owner?: SwapOwner }[]> {
  const live = embeddedPaths(root).live;
  const removed: { path: string; owner?: SwapOwner }[] = [];
  for (const name of (await readdir(root).catch(() => [] as string[])).sort()) {
    const path = join(root, name);
    const temp = TEMP_POINTER.exec(name);
    if (temp) {
      if (!isProcessAlive(Number(temp[1]))) {
        await rm(path, { force: true });
        removed.push({ path });
      }
      continue;
    }
    if (!PGDATA_NAME.test(name)) continue;
    const owner = await readOwner(join(path, SWAP_MARKER));
    if (!deadHereAndNow(owner)) continue;
    if (name === live.name && !live.problem) {
      // Live already: its swap was cut off just after the pointer moved. It is no leftover.
      await rm(join(path, SWAP_MARKER), { force: true });
      continue;
    }
    if (live.problem) continue;
    await rm(path, { recursive: true, force: true });
    removed.push({ path, owner });
  }
  return removed;
}

/** Files a root without a database may hold that a restore into it may keep: our own. */
function ownFiles(root: string): Set<string> {
  const p = embeddedPaths(root);
  return new Set([basename(p.stamp), basename(p.password), basename(ownerPath(p.lock)), `${basename(p.lock)}.lock`]);
}

export interface SwapInOptions {
  /** The data directory whose live PGDATA is replaced (its lock held by the caller). */
  root: string;
  /** The restored PGDATA, in a scratch directory beside the root (the same filesystem). */
  from: string;
  /** The name it gets inside the root: `pgdata.<stamp>`. */
  name: string;
  /** The scratch's engine.json: moved in when the root has none, or no database. */
  stampFrom: string;
  owner: SwapOwner;
  /** Called after each step (SWAP_STEPS); tests interrupt the swap there. */
  onStep?: (step: SwapStep) => Promise<void> | void;
}

/** What a swap replaced: the PGDATA that was live, by name inside the root; none on a new root. */
export interface SwapInResult {
  previous?: string;
  /** Steps after the pointer moved that failed: the swap holds, these are for a warning. */
  warnings: string[];
}

/**
 * Makes `from` the live PGDATA of `root` (see the comment at the top). Throws before the
 * pointer moves, having put nothing in place and removed what it moved in; never throws after.
 */
export async function swapPgdataIn(options: SwapInOptions): Promise<SwapInResult> {
  const { root, from, name } = options;
  const step = async (s: SwapStep) => options.onStep?.(s);
  const paths = embeddedPaths(root);
  if (paths.live.problem) throw new OpsError('RESTORE', `${paths.pointer} ${paths.live.problem}: write the name of the live PGDATA there (e.g. ${FIRST_PGDATA}), then run the restore again; nothing was changed`);
  const had = hasDatabase(paths.pgdata);
  if (!had) {
    // No database there yet (a new machine): only our own files may be in the directory.
    const own = ownFiles(root);
    const foreign = (await readdir(root)).filter((entry) => !own.has(entry));
    if (foreign.length > 0) {
      throw new OpsError('RESTORE', `${root} holds files but no embedded database (no ${paths.live.name}/PG_VERSION; it holds ${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}): move them away, then run the restore again; nothing was changed`);
    }
  }
  const target = join(root, name);
  if (name === paths.live.name || (await readdir(root)).includes(name)) {
    throw new OpsError('RESTORE', `${target} already exists: wait a second and run the restore again; nothing was changed`);
  }
  const warnings: string[] = [];
  const marker = join(from, SWAP_MARKER);
  await writeSynced(marker, `${JSON.stringify(options.owner)}\n`);
  await step('marked');
  try {
    await rename(from, target);
  } catch (error) {
    await rm(marker, { force: true }).catch(() => {});
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EXDEV'
      ? `${root} is on another filesystem than its parent, where the copy was made: make the data directory a folder inside that mount, e.g. ${join(root, 'db')}`
      : (error as Error).message;
    throw new OpsError('RESTORE', `could not move the restored PGDATA into ${root} (${why}); the live database was not changed`, { cause: error });
  }
  try {
    await fsyncDir(root);
    await fsyncDir(join(from, '..'));
    await step('moved');
    // The root keeps its stamp; one without a database (or a stamp) takes the copy's.
    if (!had || !(await readFile(paths.stamp).then(() => true, () => false))) {
      await rename(options.stampFrom, paths.stamp).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
      await fsyncDir(root);
    }
    await step('stamped');
    await writePointer(root, name, () => step('pointer-written'));
  } catch (error) {
    await rm(tempPointer(root), { force: true }).catch(() => {});
    if (embeddedPaths(root).live.name === name) {
      // The pointer moved and only the fsync after it failed: the swap holds.
      warnings.push(`could not sync ${root} after the switch (${(error as Error).message})`);
      return { ...(had ? { previous: paths.live.name } : {}), warnings };
    }
    // Not live: the pointer still names the old PGDATA (or none), so the copy goes.
    await rm(target, { recursive: true, force: true }).catch(() => {});
    throw new OpsError('RESTORE', `could not switch ${root} to the restored PGDATA (${(error as Error).message}); the live database was not changed`, { cause: error });
  }
  await step('pointed');
  // Live now: no longer a leftover of anybody's.
  await rm(join(target, SWAP_MARKER), { force: true }).catch((error: Error) => warnings.push(`could not remove ${join(target, SWAP_MARKER)} (${error.message})`));
  await step('unmarked');
  return { ...(had ? { previous: paths.live.name } : {}), warnings };
}
