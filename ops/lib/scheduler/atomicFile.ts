import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Writes `text` to `path` so that readers see the old file or the new one, never a half:
 * a temporary file in the same directory (a name node_exporter ignores: it does not end in
 * .prom), fsynced, then renamed over the target, then the directory fsynced.
 */
export async function writeFileAtomic(path: string, text: string, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const handle = await open(tmp, 'wx', mode);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  const dirHandle = await open(dir, 'r').catch(() => undefined);
  // A directory fsync makes the rename durable; some filesystems refuse it, which is harmless.
  await dirHandle?.sync().catch(() => {});
  await dirHandle?.close();
}
