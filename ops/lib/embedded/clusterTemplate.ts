import { copyFile, mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ENGINE_ID } from './layout.js';

/**
 * An initdb'd cluster of this engine build with the timescaledb extension and nothing else, as the
 * PGDATA folder a cleanly closed engine leaves. A new data directory (every drill's and restore's
 * scratch copy, quickstart's first run) is a copy of it instead of running initdb again. A folder,
 * not PGlite's tar (dumpDataDir/loadDataDir): the engine unpacked that tar file by file through
 * its WebAssembly file system, ~2 s of CPU per new cluster, where a native copy of the same 1,300
 * files costs a fraction of that. Kept per user (0700 folders, 0600 files, as the engine's own)
 * and per engine build, so a template from another PGlite is never used.
 */
export function clusterTemplatePath(): string {
  return join(homedir(), '.cache', 'aetherlens-db', `cluster-${ENGINE_ID.replace(/[^A-Za-z0-9.-]+/g, '_')}`);
}

/** Whether a template is there (a folder appears only whole: saveClusterTemplate renames it in). */
export async function hasClusterTemplate(path = clusterTemplatePath()): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

/**
 * Fills an empty PGDATA from the template. False when there is none (or it cannot be read), and
 * PGDATA is left empty for initdb.
 */
export async function copyClusterTemplate(pgdata: string, path = clusterTemplatePath()): Promise<boolean> {
  if (!(await hasClusterTemplate(path))) return false;
  try {
    await copyTree(path, pgdata);
    return true;
  } catch {
    await emptyDir(pgdata);
    return false;
  }
}

/**
 * Keeps a cleanly closed cluster's PGDATA as the template for next time; a cache, so failing to
 * write it changes nothing. Copied beside the template, then renamed: a template is whole or absent.
 */
export async function saveClusterTemplate(pgdata: string, path = clusterTemplatePath()): Promise<boolean> {
  let partial: string | undefined;
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    partial = await mkdtemp(join(dirname(path), `${basename(path)}.partial-`));
    await copyTree(pgdata, join(partial, 'pgdata'));
    await rename(join(partial, 'pgdata'), path);
    // The tar file earlier versions kept there is of no use now.
    await rm(`${path}.tar`, { force: true });
    return true;
  } catch {
    return false;
  } finally {
    if (partial) await rm(partial, { recursive: true, force: true }).catch(() => {});
  }
}

/** Forgets a template the engine could not start from. */
export async function dropClusterTemplate(path = clusterTemplatePath()): Promise<void> {
  await rm(path, { recursive: true, force: true }).catch(() => {});
}

/**
 * Copies a folder tree with every file copy under way at once (libuv's thread pool): 0.5 s for the
 * template against 1.1 s for fs.cp, which copies one file at a time. Folders are made 0700; files
 * keep their mode (0600). Into an empty or missing `to` only. Used both ways (save and copy).
 */
async function copyTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true, mode: 0o700 });
  const entries = await readdir(from, { withFileTypes: true });
  await Promise.all(entries.map((e) => e.isDirectory() ? copyTree(join(from, e.name), join(to, e.name)) : copyFile(join(from, e.name), join(to, e.name), constants.COPYFILE_EXCL)));
}

async function emptyDir(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) await rm(join(dir, name), { recursive: true, force: true });
}
