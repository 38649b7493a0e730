// The lock behind the data directory, backups and the scheduler, held by real processes
// (holder.ts): kept through a blocked event loop and SIGSTOP, gone the instant its holder dies,
// and every refusal names the holder.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { isOpsError } from '../../ops/lib/errors.js';
import { acquireLock, isProcessAlive, lockHolder, ownerPath, readLockOwner, type LockOwner } from '../../ops/lib/fileLock.js';

const HOLDER = fileURLToPath(new URL('./holder.ts', import.meta.url));
/** How long the old proper-lockfile lock survived without a refresh; we wait past it. */
const OLD_STALE_MS = 5_000;

interface Holder {
  child: ChildProcess;
  pid: number;
  /** The first line: `held {owner}` or `refused message`. */
  first: string;
  owner?: LockOwner;
  send(line: string): void;
  next(...prefixes: string[]): Promise<string>;
  exited: Promise<void>;
}

const children: ChildProcess[] = [];

/** Starts holder.ts on `path` and resolves with its first line (held or refused). */
async function startHolder(path: string, command = 'lock test holder', mode: 'exclusive' | 'shared' = 'exclusive', waitMs = 0): Promise<Holder> {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, path, command, mode, String(waitMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  let closed = false;
  // 'close', not 'exit': every line it wrote has been read by then.
  const exited = new Promise<void>((done) =>
    child.once('close', () => {
      closed = true;
      done();
    }));
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const wake of waiters.splice(0)) wake();
  });
  /** The next line starting with one of `prefixes` (removed from the queue). */
  const next = async (...prefixes: string[]) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const index = lines.findIndex((l) => prefixes.some((p) => l.startsWith(p)));
      if (index >= 0) return lines.splice(index, 1)[0]!;
      if (Date.now() > deadline || closed) throw new Error(`holder ${child.pid} never said "${prefixes.join('" or "')}" (said: ${lines.join(' | ')})`);
      await Promise.race([new Promise<void>((wake) => waiters.push(wake)), exited, sleep(1000)]);
    }
  };
  const first = await next('held ', 'refused ');
  return {
    child,
    pid: child.pid!,
    first,
    ...(first.startsWith('held ') ? { owner: JSON.parse(first.slice(5)) as LockOwner } : {}),
    send: (line) => child.stdin!.write(`${line}\n`),
    next,
    exited,
  };
}

const describeOwner = (o: LockOwner) => `held by pid ${o.pid} (${o.command}, since ${o.since})`;

/** What a second acquirer is told. */
async function refusal(path: string): Promise<string> {
  const error = await acquireLock(path, { command: 'second', describe: describeOwner }).then(
    async (lock) => {
      await lock.release();
      return new Error('the lock was taken from its holder');
    },
    (e: unknown) => e,
  );
  if (!isOpsError(error) || error.code !== 'LOCK_HELD') throw error;
  return error.message;
}

describe('file locks: held exactly as long as the holder lives', () => {
  let root: string;
  let path: string;
  let cases = 0;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-locks-'));
  });
  beforeEach(() => {
    path = join(root, `case-${++cases}`, 'serve');
  });
  afterEach(() => {
    for (const child of children.splice(0)) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('a holder blocked for 8 s (a long statement) keeps its lock; a second acquirer is refused, naming it', async () => {
    const holder = await startHolder(path, 'aetherlens-db local serve');
    holder.send('block 8000');
    await sleep(OLD_STALE_MS + 1_000);
    expect(await refusal(path)).toBe(`held by pid ${holder.pid} (aetherlens-db local serve, since ${holder.owner!.since})`);
    expect(await lockHolder(path)).toEqual({ ...holder.owner, purpose: 'test' });
    await holder.next('unblocked');
    // Still its lock afterwards, with its owner file.
    expect((await lockHolder(path))?.pid).toBe(holder.pid);
    expect(await readLockOwner(path)).toEqual(holder.owner);
  });

  test('a stopped holder (SIGSTOP) keeps its lock', async () => {
    const holder = await startHolder(path);
    holder.child.kill('SIGSTOP');
    await sleep(OLD_STALE_MS + 1_000);
    expect(await refusal(path)).toBe(describeOwner(holder.owner!));
    expect((await lockHolder(path))?.pid).toBe(holder.pid);
    holder.child.kill('SIGCONT');
    expect((await lockHolder(path))?.pid).toBe(holder.pid);
  });

  test('kill -9 frees it at once, even while a child the holder started lives on', async () => {
    const holder = await startHolder(path);
    holder.send('spawn');
    const orphan = Number((await holder.next('spawned')).split(' ')[1]);
    holder.child.kill('SIGKILL');
    await holder.exited;
    try {
      expect(isProcessAlive(orphan)).toBe(true);
      // The dead holder's owner file is still there, but names nobody who holds anything.
      expect((await readLockOwner(path))?.pid).toBe(holder.pid);
      expect(await lockHolder(path)).toBeUndefined();
      const started = performance.now();
      const lock = await acquireLock(path, { command: 'after kill -9', describe: describeOwner });
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(await readLockOwner(path)).toEqual(lock.owner);
      expect((await lockHolder(path))?.pid).toBe(process.pid);
      await lock.release();
    } finally {
      process.kill(orphan, 'SIGKILL');
    }
  });

  test('release frees it and removes the owner file', async () => {
    const holder = await startHolder(path);
    holder.send('release');
    await holder.next('released');
    expect(existsSync(ownerPath(path))).toBe(false);
    expect(await lockHolder(path)).toBeUndefined();
    const lock = await acquireLock(path, { command: 'next', describe: describeOwner });
    await lock.release();
    await lock.release();
    expect(existsSync(ownerPath(path))).toBe(false);
  });

  test('removing the owner file does not free the lock, and the holder is still named', async () => {
    const holder = await startHolder(path);
    await rm(ownerPath(path));
    expect(await refusal(path)).toBe(describeOwner(holder.owner!));
    expect((await lockHolder(path))?.pid).toBe(holder.pid);
  });

  test('two spellings of one directory (a symlink) are one lock', async () => {
    const real = join(root, 'real');
    await mkdir(real, { recursive: true });
    await symlink(real, join(root, 'link'));
    const holder = await startHolder(join(real, 'serve'));
    expect(await refusal(join(root, 'link', 'serve'))).toBe(describeOwner(holder.owner!));
  });

  test('four processes racing for one lock: one holds it, the other three name that one', async () => {
    const racers = await Promise.all([1, 2, 3, 4].map(() => startHolder(path)));
    const winners = racers.filter((r) => r.owner);
    expect(winners).toHaveLength(1);
    const winner = winners[0]!;
    for (const loser of racers.filter((r) => !r.owner)) {
      expect(loser.first).toBe(`refused ${describeOwner(winner.owner!)}`);
    }
  });

  test('shared holders coexist; the exclusive taker is refused while one lives, naming it, and gets it once they are gone', async () => {
    const first = await startHolder(path, 'verify', 'shared');
    const second = await startHolder(path, 'restore', 'shared');
    expect(first.owner?.pid).toBe(first.pid);
    expect(second.owner?.pid).toBe(second.pid);
    expect(await refusal(path)).toMatch(new RegExp(`^held by pid (${first.pid}|${second.pid}) \\((verify|restore), since `));
    first.child.kill('SIGKILL');
    await first.exited;
    expect(await refusal(path)).toBe(describeOwner(second.owner!));
    // A shared holder whose loop is blocked is still there, named by the pid in its socket's name.
    second.send('block 3000');
    await sleep(200);
    expect(await refusal(path)).toMatch(new RegExp(`^held by pid ${second.pid} \\(`));
    second.child.kill('SIGKILL');
    await second.exited;
    const lock = await acquireLock(path, { command: 'rotate', describe: describeOwner });
    await lock.release();
  });

  test('a shared taker is refused while the exclusive holder lives, or waits for it to let go', async () => {
    const exclusive = await startHolder(path, 'rotate');
    const refused = await startHolder(path, 'verify', 'shared');
    expect(refused.first).toBe(`refused ${describeOwner(exclusive.owner!)}`);
    const waiting = startHolder(path, 'verify', 'shared', 20_000);
    await sleep(1_000);
    exclusive.send('release');
    const reader = await waiting;
    expect(reader.owner?.command).toBe('verify');
    expect(await refusal(path)).toBe(describeOwner(reader.owner!));
  });

  test('readers and an exclusive taker racing: never both', async () => {
    for (let round = 0; round < 5; round++) {
      const casePath = `${path}-${round}`;
      const racers = await Promise.all([startHolder(casePath, 'rotate'), startHolder(casePath, 'verify', 'shared'), startHolder(casePath, 'restore', 'shared')]);
      const [exclusive, ...readers] = racers;
      if (exclusive!.owner) expect(readers.every((r) => !r.owner)).toBe(true);
      for (const r of racers) r.child.kill('SIGKILL');
      await Promise.all(racers.map((r) => r.exited));
    }
  });
});
