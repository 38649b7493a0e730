import { OpsError } from '../errors.js';
import { hostname } from 'node:os';
import { acquireLock, isProcessAlive, lockHolder, type LockOwner } from '../fileLock.js';
import { embeddedPaths, openEmbeddedEngine } from '../embedded/engine.js';
import type { Target } from './types.js';

export function describeServeOwner(dataDir: string) {
  return (owner: LockOwner) =>
    `the embedded database ${dataDir} is already open by pid ${owner.pid} on ${owner.host} (${owner.command}, since ${owner.since}${owner.port ? `, serving 127.0.0.1:${String(owner.port)}` : ''}): stop it first (aetherlens-db local stop) or use that server`;
}

/**
 * Opens the embedded database. When `aetherlens-db local serve` already has it open, SQL goes to
 * that server (one connection at a time); otherwise this process opens it, holding the data
 * directory's lock so no second process can open the same files.
 */
export async function openEmbeddedTarget(options: { dataDir: string; command: string; port?: number; requireOwnership?: boolean }): Promise<Target> {
  const paths = embeddedPaths(options.dataDir);
  const holder = await lockHolder(paths.lock);
  // A holder killed with -9 leaves its lock until it goes stale: don't attach to its dead port.
  const holderAlive = holder !== undefined && (holder.host !== hostname() || isProcessAlive(holder.pid));
  if (holder && holderAlive && typeof holder.port === 'number' && !options.requireOwnership) {
    return {
      kind: 'embedded',
      label: `embedded ${paths.root} (served by pid ${holder.pid} on 127.0.0.1:${holder.port})`,
      connection: { host: '127.0.0.1', port: holder.port, user: 'postgres', database: String(holder.database ?? 'template1'), singleSession: true },
      close: async () => {},
    };
  }
  if (holder && holderAlive) throw new OpsError('LOCK_HELD', describeServeOwner(paths.root)(holder));
  const lock = await acquireLock(paths.lock, { command: options.command, describe: describeServeOwner(paths.root) });
  try {
    const engine = await openEmbeddedEngine({ dataDir: paths.root, ...(options.port !== undefined ? { port: options.port } : {}) });
    return {
      kind: 'embedded',
      label: `embedded ${paths.root}`,
      connection: engine.info,
      engine,
      async close() {
        await engine.close();
        await lock.release();
      },
    };
  } catch (error) {
    await lock.release();
    throw error;
  }
}
