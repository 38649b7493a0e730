import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir, writeFileAtomic } from '../atomicFile.js';

export { fsyncDir, writeFileAtomic };

/** Backup files: readable by their owner only (they hold every row of the database). */
export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

/** Flushes a file's data to disk. */
export async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates a directory with mode 0700 whatever the umask; fails if it exists. */
export async function createPrivateDir(path: string): Promise<void> {
  await mkdir(path, { mode: DIR_MODE });
  await chmod(path, DIR_MODE);
}

/** Creates an empty file with mode 0600 whatever the umask; fails if it exists. */
export async function createPrivateFile(path: string): Promise<void> {
  const handle = await open(path, 'wx', FILE_MODE);
  await handle.chmod(FILE_MODE);
  await handle.close();
}

/**
 * Makes a finished temporary directory visible under its final name in one step: its files and
 * the directory are fsynced, then renamed, then the parent fsynced. rename(2) of a directory is
 * atomic, so the dump and its manifest appear together or not at all. Fails (ENOTEMPTY/EEXIST)
 * rather than replace an existing backup.
 */
export async function publishDir(temp: string, final: string, files: readonly string[]): Promise<void> {
  for (const file of files) await fsyncFile(file);
  await fsyncDir(temp);
  await rename(temp, final);
  await fsyncDir(dirname(final));
}

/** sha256 (hex) and size of a file, read once. */
export async function hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}
