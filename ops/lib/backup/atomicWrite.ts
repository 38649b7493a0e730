import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

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

/** Flushes a directory's entries (a rename or a new file in it) to disk. */
export async function fsyncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // Some file systems cannot fsync a directory; the rename is still atomic there.
    if (!['EINVAL', 'EISDIR', 'EBADF'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
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
 * Replaces `path` with `data` atomically: written to a temporary name beside it, fsynced, renamed
 * over it, and the directory fsynced. A crash leaves the old file or the new one, never a mix.
 * The temporary name carries our pid so a later run can tell an abandoned one.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = FILE_MODE): Promise<void> {
  const temp = `${path}.tmp-${process.pid}`;
  try {
    const handle = await open(temp, 'w', mode);
    try {
      await handle.chmod(mode);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => {});
    throw error;
  }
  await fsyncDir(dirname(path));
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
