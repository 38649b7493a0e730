import { describeConnection, type ConnectionInfo } from '../../connection.js';
import type { BackupLockKey, TargetCapabilities } from '../types.js';

/** The server's label: what its backups are locked and recorded under. */
export function serverLabel(connection: ConnectionInfo): string {
  return describeConnection(connection);
}

/** The backup lock a server's backups and restores share. */
export function serverBackupLockKey(connection: ConnectionInfo): BackupLockKey {
  return { kind: 'server', label: serverLabel(connection) };
}

/** A PostgreSQL server (on a host or in the docker kind's container): what operations may rely on there. */
export const SERVER_CAPABILITIES: TargetCapabilities = {
  sessions: 'many',
  timescaleLoad: 'preloaded',
  bulkLoad: 'copy',
  extensionUpgrade: 'alter-extension',
};
