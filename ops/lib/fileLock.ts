import { createHash } from 'node:crypto';
import { mkdir, readFile, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OpsError } from './errors.js';

/*
 * One lock for the embedded data directory, the backup directory, the backup catalog and the
 * scheduler: a listening Unix socket in Linux's abstract namespace, named after the locked path.
 * The kernel holds it for exactly as long as the process lives: nothing refreshes it, so a
 * statement that blocks the event loop for minutes, a long dump or SIGSTOP cannot lose it, and it
 * is free the instant the holder dies (kill -9), with no staleness guess. Sockets are close-on-exec, so a child (pg_dump) that
 * outlives us does not keep it. Beside it, `<path>.owner.json` (0600) names the holder; the holder
 * also answers on the socket with the same JSON whenever its event loop is free.
 *
 * Shared (reader) locks: each reader listens on its own name below the lock's, `<name>/shared/<pid>-<n>`.
 * A reader first listens, then looks for the exclusive holder; an exclusive taker first listens,
 * then looks for readers (Linux lists abstract names in /proc/net/unix). Each looks only after
 * announcing itself, so at least one of two racing takers sees the other and backs off: readers
 * exclude the exclusive holder and each other never.
 *
 * What it does not cover: the abstract namespace belongs to one network namespace on one machine.
 * Another host sharing the directory (NFS), or a container with its own network namespace mounting
 * it, does not see the lock. A neighbour user who binds the same name can only make us refuse
 * (naming an unknown holder), never make two of us hold it. Linux only (WSL included).
 */

/** Who holds a lock: written beside it so a second run can name the first. */
export interface LockOwner {
  pid: number;
  host: string;
  since: string;
  command: string;
  /** Free-form details, e.g. the port `local serve` listens on. */
  [key: string]: unknown;
}

export interface HeldLock {
  owner: LockOwner;
  release(): Promise<void>;
}

/** How long a free holder takes to answer on its socket; a busy one is named by its owner file. */
const REPLY_WAIT_MS = 250;
/** How long to wait for the owner file of a holder that took the lock a moment ago. */
const OWNER_FILE_WAIT_MS = 1_500;

const UNKNOWN_HOLDER: LockOwner = { pid: 0, host: '?', since: 'unknown', command: 'unknown (no owner file)' };

/** Shared holders' names, each unique within this process. */
let sharedCount = 0;

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

/** The path with symlinks resolved in its longest existing prefix, so two spellings share a lock. */
async function canonicalPath(path: string): Promise<string> {
  let dir = dirname(resolve(path));
  let rest = basename(resolve(path));
  for (;;) {
    try {
      return join(await realpath(dir), rest);
    } catch {
      if (dirname(dir) === dir) return resolve(path);
      rest = join(basename(dir), rest);
      dir = dirname(dir);
    }
  }
}

async function socketName(path: string): Promise<string> {
  if (process.platform !== 'linux') {
    throw new OpsError('LOCK_HELD', `cannot lock ${path}: aetherlens-db's locks are sockets in Linux's abstract namespace, and this is ${process.platform}; run it on Linux (WSL on Windows)`);
  }
  return `\0aetherlens-lock/${createHash('sha256').update(await canonicalPath(path)).digest('hex')}`;
}

/** Connects to the lock's socket: undefined when nobody listens, else the connection (if any). */
function probe(name: string): Promise<{ socket?: Socket } | undefined> {
  return new Promise((done) => {
    const socket = createConnection(name);
    socket.once('connect', () => done({ socket }));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.destroy();
      // EAGAIN: the holder's backlog is full (it is busy), so it is there.
      done(error.code === 'ECONNREFUSED' || error.code === 'ENOENT' ? undefined : {});
    });
  });
}

/** The owner JSON the holder writes on the probe's connection; stays pending if none comes. */
function readReply(socket: Socket | undefined): Promise<LockOwner> {
  return new Promise((done) => {
    if (!socket) return;
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > 64 * 1024) socket.destroy();
    });
    socket.once('close', () => {
      try {
        const owner = JSON.parse(text) as LockOwner;
        if (typeof owner.pid === 'number') done(owner);
      } catch {
        // Not one of ours (a squatter), or it let go before answering: the owner file names it.
      }
    });
  });
}

/** Names the live holder behind a probe: its answer, else (busy, stopped) its owner file. */
async function nameHolder(path: string, socket: Socket | undefined): Promise<LockOwner> {
  try {
    const reply = readReply(socket);
    const quick = await Promise.race([reply, sleep(REPLY_WAIT_MS)]);
    if (quick) return quick;
    const deadline = Date.now() + OWNER_FILE_WAIT_MS;
    for (;;) {
      const owner = await readLockOwner(path);
      // A file naming a dead pid is a previous holder's: the new one renames its own in a moment.
      if (owner && (owner.host !== hostname() || isProcessAlive(owner.pid))) return owner;
      if (Date.now() >= deadline) return UNKNOWN_HOLDER;
      const answer = await Promise.race([reply, sleep(50)]);
      if (answer) return answer;
    }
  } finally {
    socket?.destroy();
  }
}

/** Whether someone holds the lock right now, and who. */
export async function lockHolder(path: string): Promise<LockOwner | undefined> {
  const held = await probe(await socketName(path));
  return held ? nameHolder(path, held.socket) : undefined;
}

/** The names shared holders of the lock `name` listen on (from /proc/net/unix: same namespace). */
async function sharedNames(name: string): Promise<string[]> {
  const prefix = `@${name.slice(1)}/shared/`;
  const table = await readFile('/proc/net/unix', 'utf8').catch(() => '');
  const names = new Set<string>();
  for (const line of table.split('\n')) {
    const path = line.trim().split(/\s+/)[7];
    // Node pads abstract names with NUL bytes, which the kernel shows as '@'.
    if (path?.startsWith(prefix)) names.add(`\0${path.slice(1).replace(/@+$/, '')}`);
  }
  return [...names];
}

/** Names a shared holder by its answer, else by the pid in its name. */
async function nameSharedHolder(name: string): Promise<LockOwner> {
  const pid = Number(/\/shared\/(\d+)-\d+$/.exec(name)?.[1] ?? 0);
  const held = await probe(name);
  if (!held) return { ...UNKNOWN_HOLDER, pid };
  try {
    const reply = await Promise.race([readReply(held.socket), sleep(REPLY_WAIT_MS)]);
    return reply || { pid, host: hostname(), since: 'unknown', command: 'a reader (busy)' };
  } finally {
    held.socket?.destroy();
  }
}

/** Listens on `name`, answering each caller with `owner`; close() lets go of the name and the callers. */
function listen(name: string, owner: LockOwner): Promise<{ close: () => void }> {
  const clients = new Set<Socket>();
  const server = createServer((socket) => {
    clients.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => clients.delete(socket));
    socket.end(`${JSON.stringify(owner)}\n`);
  });
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(name, () => {
      server.off('error', fail);
      // A lock never keeps the process alive.
      server.unref();
      done({
        close() {
          server.close();
          for (const socket of clients) socket.destroy();
        },
      });
    });
  });
}

/**
 * Takes an exclusive lock on `path` (a file or directory that need not exist). A live holder, busy
 * or not, or a live shared holder, makes this fail at once with `describe(owner)`; a dead one
 * holds nothing.
 */
export async function acquireLock(
  path: string,
  options: { command: string; details?: Record<string, unknown>; describe: (owner: LockOwner) => string },
): Promise<HeldLock> {
  await mkdir(dirname(path), { recursive: true });
  const name = await socketName(path);
  const owner: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString(), command: options.command, ...options.details };
  let held: { close: () => void } | undefined;
  for (let attempt = 1; !held; attempt++) {
    try {
      held = await listen(name, owner);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw new OpsError('LOCK_HELD', `cannot take the lock on ${path}: ${(error as Error).message}`, { cause: error });
      const holder = await probe(name);
      // Bound but not answering after three tries: someone else's socket squats the name.
      if (holder || attempt === 3) throw new OpsError('LOCK_HELD', options.describe(holder ? await nameHolder(path, holder.socket) : UNKNOWN_HOLDER));
      // The holder let go between our two calls: try again.
    }
  }
  const listening = held;
  const readers = await sharedNames(name);
  if (readers.length > 0) {
    listening.close();
    throw new OpsError('LOCK_HELD', options.describe(await nameSharedHolder(readers[0]!)));
  }
  // Renamed into place so a reader never sees half a file.
  const temp = `${ownerPath(path)}.${process.pid}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify(owner)}\n`, { mode: 0o600 });
    await rename(temp, ownerPath(path));
  } catch (error) {
    await rm(temp, { force: true }).catch(() => {});
    listening.close();
    throw new OpsError('LOCK_HELD', `cannot write the lock's owner file ${ownerPath(path)}: ${(error as Error).message}`, { cause: error });
  }
  return {
    owner,
    release: releaseOnce(async () => {
      // While we still hold the lock, nobody else writes the owner file: remove it if it is ours.
      const current = await readLockOwner(path);
      if (current?.pid === owner.pid && current.since === owner.since) await rm(ownerPath(path), { force: true });
      listening.close();
    }),
  };
}

/** A lock's release: runs `close` the first time only, so a second release() is harmless. */
function releaseOnce(close: () => void | Promise<void>): () => Promise<void> {
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    await close();
  };
}

/**
 * Takes a shared lock on `path`: any number of shared holders at once, but never together with
 * the exclusive holder. While an exclusive holder is there, retries until `waitMs` has passed, then
 * fails with `describe(exclusive holder)`. Writes no owner file: a shared holder answers on its
 * own socket, and its pid is in the socket's name.
 */
export async function acquireSharedLock(
  path: string,
  options: { command: string; details?: Record<string, unknown>; describe: (owner: LockOwner) => string; waitMs?: number; onWait?: (owner: LockOwner) => void },
): Promise<HeldLock> {
  const name = await socketName(path);
  const owner: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString(), command: options.command, ...options.details };
  const deadline = Date.now() + (options.waitMs ?? 0);
  let waited = false;
  for (;;) {
    sharedCount += 1;
    const listening = await listen(`${name}/shared/${process.pid}-${sharedCount}`, owner);
    const exclusive = await probe(name);
    if (!exclusive) return { owner, release: releaseOnce(() => listening.close()) };
    listening.close();
    const holder = await nameHolder(path, exclusive.socket);
    if (Date.now() >= deadline) throw new OpsError('LOCK_HELD', options.describe(holder));
    if (!waited) options.onWait?.(holder);
    waited = true;
    await sleep(200);
  }
}
