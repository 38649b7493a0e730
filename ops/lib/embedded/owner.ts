import type { LockOwner } from '../fileLock.js';

/**
 * Why the embedded data directory cannot be opened: who has it, since when, and on which port.
 * Shared by `local serve` and the embedded target, which both take the data directory's lock.
 */
export function describeServeOwner(dataDir: string) {
  return (owner: LockOwner) =>
    `the embedded database ${dataDir} is already open by pid ${owner.pid} on ${owner.host} (${owner.command}, since ${owner.since}${owner.port ? `, serving 127.0.0.1:${String(owner.port)}` : ''}): stop it first (aetherlens-db local stop) or use that server`;
}
