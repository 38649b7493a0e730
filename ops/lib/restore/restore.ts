import { dirname } from 'node:path';
import { isOpsError, OpsError } from '../errors.js';
import { acquireLock, type HeldLock, type LockOwner } from '../fileLock.js';
import { silentLogger, type Logger } from '../logger.js';
import type { BackupStatus } from '../backup/catalog.js';
import { backupLockPath } from '../backup/lock.js';
import { readCatalog } from '../backup/catalogLock.js';
import { assertTrustedBackup } from '../backup/trust.js';
import type { Manifest } from '../backup/manifest.js';
import type { CheckResult } from './checks.js';
import { assertRestorable } from './compat.js';
import { checkChecksum, checkCopy, DEFAULT_RESTORE_MODE, type ExtensionVersionsReport } from './drill.js';
import { selectBackup, type Selection } from './select.js';
import { describeSession, type LiveSession, type RestoreMode, type RestorePhase, type RestoreSite, type ScratchCopy, type SwapResult } from '../targets/restoreSite.js';
import type { RestoreSites } from '../targets/types.js';

/** One table's rows in the backup against the live database, for the confirmation. */
export interface RowComparison {
  table: string;
  backup: number;
  /** null when the live database lacks the table (or does not exist). */
  live: number | null;
}

/** What a person confirms before the swap: every check has passed by then. */
export interface RestoreSummary {
  backup: { id: string; createdAt: string; bytes: number; status: BackupStatus };
  /** The database (or data directory) that will be replaced. */
  live: string;
  liveExists: boolean;
  /** What the replaced one will be called. */
  previous: string;
  rows: RowComparison[];
  /** Sessions --force will end. */
  sessions: LiveSession[];
  checks: CheckResult[];
}

export interface RestoreReport {
  backup: { id: string; createdAt: string; bytes: number };
  live: string;
  swap: SwapResult;
  checks: CheckResult[];
  rtoSeconds: number;
  phases: RestorePhase[];
  seconds: number;
  cleaned: string[];
  /** The version the copy was restored at (the dump's) and the one it was updated to. */
  timescaledb: ExtensionVersionsReport;
}

export interface RestoreOptions {
  /** Where to restore: restoreSitesOf(spec), or an open Target of a server (an open embedded Target holds the data a restore replaces, and is refused). */
  target: RestoreSites;
  backupDir: string;
  selection: Selection;
  /** Restore under this name (database, or data directory on the embedded target). */
  into?: string;
  /** End sessions on the live database instead of refusing. */
  force?: boolean;
  /** Asked once every check has passed, just before the swap; false cancels. */
  confirm: (summary: RestoreSummary) => Promise<boolean>;
  mode?: RestoreMode;
  signal?: AbortSignal;
  logger?: Logger;
  now?: () => Date;
  /** Update the restored copy to this TimescaleDB version; default: the server's default version. */
  updateTo?: string;
  /** Create missing roles (NOLOGIN) instead of refusing: the new server of a major upgrade has none. */
  createRoles?: boolean;
}

/**
 * Total rows per table in a backup's fingerprint (hypertables: the sum of their chunks). The
 * continuous aggregates' internal materialization tables are left out: a person compares tables.
 */
export function backupRowCounts(manifest: Manifest): Record<string, number> {
  const fp = manifest.fingerprint;
  const counts: Record<string, number> = {};
  for (const [name, t] of Object.entries(fp.tables)) counts[name] = t.rows;
  for (const [name, h] of Object.entries(fp.hypertables)) {
    if (name.startsWith('_materialized_hypertable_')) continue;
    counts[name] = Object.values(h.chunks).reduce((n, c) => n + c.rows, 0);
  }
  return counts;
}

const refused = (why: string) => new OpsError('RESTORE', `restore refused: ${why}; the live database was not changed`);

/** Holds the target's backup lock: no backup of it runs while we restore, and we never cut one off. */
async function lockOutBackups(dir: string, site: RestoreSite): Promise<HeldLock> {
  const describe = (owner: LockOwner) => owner.command === 'backup' || owner.command.startsWith('schedule')
    ? `a backup of this database is running (pid ${owner.pid || 'unknown'}, since ${owner.since}): wait for it to finish, then run the restore again; nothing was changed`
    : `another ${owner.command} of this database is running (pid ${owner.pid || 'unknown'}, since ${owner.since}): wait for it to finish; nothing was changed`;
  return acquireLock(backupLockPath(dir, site.backupLockKey), { command: 'restore', describe });
}

/**
 * `aetherlens-db restore`: never in place. Restores the chosen backup into a new database (a new
 * data directory on the embedded target) with TimescaleDB's procedure, runs the drill's checks on
 * it, asks for confirmation, then swaps names so the previous data is kept beside it. Refuses on a
 * checksum mismatch, a TimescaleDB version other than the dump's, a fingerprint mismatch, live
 * sessions without `force`, and a running backup. Any failure before the swap leaves the live
 * database untouched and removes the copy.
 */
export async function restore(options: RestoreOptions): Promise<RestoreReport> {
  // Rotation must not delete the backup while we read it (catalogLock.ts).
  const lock = await readCatalog(options.backupDir, { command: 'restore', ...(options.selection.backup ? { backup: options.selection.backup } : {}), ...(options.logger ? { logger: options.logger } : {}) });
  try {
    return await restoreLocked(options);
  } finally {
    await lock.release();
  }
}

async function restoreLocked(options: RestoreOptions): Promise<RestoreReport> {
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? (() => new Date());
  const started = performance.now();
  const entry = await selectBackup(options.backupDir, options.selection);
  await assertTrustedBackup(dirname(entry.path), entry.path, entry.manifest?.dump.file);
  const manifest = entry.manifest;
  if (!manifest || !entry.dumpPath) throw refused(`backup ${entry.id} is unusable (${entry.problem ?? 'no readable manifest'})`);
  if (entry.status === 'failed') logger.warn(`backup ${entry.id} failed its last drill (${manifest.verification?.differences[0] ?? 'see its manifest'}); the restore checks it again`);
  const site = await options.target.openRestoreSite({ purpose: 'restore', command: 'restore' });
  let lock: HeldLock | undefined;
  let copy: ScratchCopy | undefined;
  const onAbort = () => void copy?.discard();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    lock = await lockOutBackups(options.backupDir, site);
    const cleaned = await site.cleanLeftovers(logger);
    const live = options.into === undefined ? site.defaultLive : site.liveNamed(options.into);
    const checksum = await checkChecksum(entry, manifest);
    if (!checksum.ok) throw refused(checksum.detail);
    const names = site.scratchName(live, 'restore', now());
    const backupCounts = backupRowCounts(manifest);
    const liveCounts = await site.liveRowCounts(live, Object.keys(backupCounts));
    if (options.signal?.aborted) throw new OpsError('ABORTED', 'interrupted');
    copy = await site.restoreCopy({
      manifest, dumpPath: entry.dumpPath, purpose: 'restore', scratch: names.scratch, mode: options.mode ?? DEFAULT_RESTORE_MODE,
      check: (facts) => assertRestorable(manifest, facts),
      starting: () => logger.info(`restoring ${entry.id} into ${names.scratch}`),
      logger, ...(options.signal ? { signal: options.signal } : {}), ...(options.createRoles ? { createRoles: true } : {}),
    });
    logger.info(`restored in ${copy.restoreSeconds.toFixed(1)} s; checking it against the backup`);
    const checked = await checkCopy(copy, manifest, 'probe', options.signal, options.updateTo);
    const checks = [checksum, ...checked.checks];
    const failed = checks.filter((c) => !c.ok);
    if (failed.length > 0) {
      const differences = failed.flatMap((c) => c.differences);
      throw new OpsError('RESTORE', `restore refused: the restored copy does not match backup ${entry.id}: ${differences[0]}${differences.length > 1 ? ` (and ${differences.length - 1} more)` : ''}; the live database was not changed`, { details: { differences } });
    }
    const sessions = await site.liveSessions(live);
    if (sessions.length > 0 && !options.force) {
      throw refused(`${sessions.length} session(s) are connected to "${live}": ${sessions.map(describeSession).join('; ')}; stop the application, or run again with --force to end them`);
    }
    const summary: RestoreSummary = {
      backup: { id: entry.id, createdAt: manifest.createdAt, bytes: manifest.dump.bytes, status: entry.status },
      live,
      liveExists: liveCounts !== undefined,
      previous: names.previous,
      rows: Object.entries(backupCounts).map(([table, backup]) => ({ table, backup, live: liveCounts?.[table] ?? null })),
      sessions,
      checks,
    };
    if (options.signal?.aborted) throw new OpsError('ABORTED', 'interrupted');
    if (!(await options.confirm(summary))) throw new OpsError('ABORTED', `restore cancelled: nothing was changed (the restored copy was removed)`);
    if (sessions.length > 0) logger.warn(`ending ${sessions.length} session(s) on "${live}": ${sessions.map(describeSession).join('; ')}`);
    const { restoreSeconds, phases } = copy;
    const swap = await copy.swapInto({ live, previous: names.previous, stamp: names.stamp, force: options.force === true, logger, backupId: entry.id });
    copy = undefined;
    return {
      backup: { id: entry.id, createdAt: manifest.createdAt, bytes: manifest.dump.bytes },
      live,
      swap,
      checks,
      rtoSeconds: restoreSeconds + checked.finishSeconds,
      phases,
      seconds: (performance.now() - started) / 1000,
      cleaned,
      timescaledb: checked.extension,
    };
  } catch (error) {
    if (options.signal?.aborted) throw new OpsError('ABORTED', 'restore interrupted: the restored copy was removed; the live database was not changed', { cause: error });
    throw isOpsError(error) ? error : new OpsError('RESTORE', `restore failed: ${(error as Error).message}; the live database was not changed`, { cause: error });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await copy?.discard();
    await lock?.release();
    await site.close();
  }
}
