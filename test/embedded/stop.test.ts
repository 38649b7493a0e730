import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { acquireLock, ownerPath, type HeldLock } from '../../ops/lib/fileLock.js';
import { embeddedPaths } from '../../ops/lib/embedded/layout.js';
import { stopEmbedded } from '../../ops/lib/embedded/serve.js';

/** The lock suite's holder: takes a lock in its own process and says `held {owner}`. */
const HOLDER = fileURLToPath(new URL('../locks/holder.ts', import.meta.url));

/** Wrapped: an execa child is a thenable, and an async function would wait for it to exit. */
async function startHolder(path: string): Promise<{ child: ResultPromise }> {
  const child = execa(process.execPath, ['--import', 'tsx', HOLDER, path, 'aetherlens-db local serve'], { reject: false, stdin: 'pipe' });
  await new Promise<void>((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.startsWith('held ')) ok();
      else if (out.includes('\n')) fail(new Error(out));
    });
  });
  return { child };
}

/** `local stop` signals the holder its lock records, and nothing else. */
describe('local stop', () => {
  let root: string;
  let holder: ResultPromise | undefined;
  let lock: HeldLock | undefined;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-stop-'));
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    if (holder) {
      holder.kill('SIGCONT');
      holder.kill('SIGKILL');
      await holder;
      holder = undefined;
    }
    await lock?.release();
    lock = undefined;
    await rm(root, { recursive: true, force: true });
  });

  test('a holder that names nobody (pid 0: busy, and no owner file) gets no signal, nor does our own process group', async () => {
    const paths = embeddedPaths(root);
    const { child } = await startHolder(paths.lock);
    holder = child;
    await rm(ownerPath(paths.lock));
    // Stopped, it answers no probe: only its (removed) owner file could name it.
    child.kill('SIGSTOP');
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    const outcome = await stopEmbedded(root, 1_000).then((owner) => `returned ${JSON.stringify(owner)}`, (e: Error) => e.message);
    expect(kill.mock.calls.filter(([, signal]) => signal !== 0 && signal !== undefined)).toEqual([]);
    expect(outcome).toBe(`the embedded database ${paths.root} is locked, but the lock does not name its holder (no ${ownerPath(paths.lock)} yet): nothing was signalled; try again in a few seconds, or find the process with: ps -ef | grep aetherlens-db`);
  });

  test('the recorded holder, and only it, gets SIGTERM', async () => {
    const { child } = await startHolder(embeddedPaths(root).lock);
    holder = child;
    const kill = vi.spyOn(process, 'kill');
    const owner = await stopEmbedded(root, 10_000);
    expect(owner?.pid).toBe(child.pid);
    expect((await child).signal).toBe('SIGTERM');
    expect(kill.mock.calls.filter(([, signal]) => signal === 'SIGTERM')).toEqual([[child.pid, 'SIGTERM']]);
  });

  test('this process as the recorded holder is refused', async () => {
    const paths = embeddedPaths(root);
    lock = await acquireLock(paths.lock, { command: 'test', describe: () => 'held' });
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    await expect(stopEmbedded(root, 1_000)).rejects.toThrow(`the embedded database ${paths.root} is held by this process (pid ${process.pid}): nothing was signalled`);
    expect(kill.mock.calls.filter(([, signal]) => signal === 'SIGTERM')).toEqual([]);
  });
});
