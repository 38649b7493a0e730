import type { BackupLockKey, TargetCapabilities } from '../types.js';

/**
 * The engine (DESIGN section 2): one shared session; TimescaleDB loaded with LOAD and created when
 * the engine opens; COPY FROM STDIN refused by its wire server; its one TimescaleDB version ships
 * with aetherlens-db.
 */
export const EMBEDDED_CAPABILITIES: TargetCapabilities = {
  sessions: 'shared-single',
  timescaleLoad: 'loaded-on-open',
  bulkLoad: 'insert',
  extensionUpgrade: 'ships-with-program',
};

/** The embedded database's label, which its backups and restores are locked under. */
export function embeddedLabel(root: string): string {
  return `embedded ${root}`;
}

export function embeddedBackupLockKey(root: string): BackupLockKey {
  return { kind: 'embedded', label: embeddedLabel(root) };
}
