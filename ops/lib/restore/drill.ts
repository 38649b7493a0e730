import { dirname } from 'node:path';
import { isOpsError, OpsError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { hashFile } from '../backup/atomicWrite.js';
import type { CatalogEntry } from '../backup/catalog.js';
import { findBackup } from '../backup/catalog.js';
import { readCatalog } from '../backup/catalogLock.js';
import { assertTrustedBackup } from '../backup/trust.js';
import { recordVerification, type Manifest, type Verification } from '../backup/manifest.js';
import { checkAggregatesExist, checkFingerprint, checkJobs, checkMigrations, checkRefresh, checkUnchangedByUpdate, restoringCheck, type CheckResult } from './checks.js';
import { takeFingerprint, type Fingerprint } from '../backup/fingerprint.js';
import { assertRestorable } from './compat.js';
import { carryJobStates } from './jobStates.js';
import { isBackupFault, type PreparedScratch, type RestoreMode, type RestorePhase, type RestoreSite, type ScratchCopy } from '../targets/restoreSite.js';
import type { RestoreSites } from '../targets/types.js';

/** How a dump is restored unless told otherwise: see test/bench/restore.bench.ts. */
export const DEFAULT_RESTORE_MODE: RestoreMode = 'two-phase';

/** The recovery point: how much data restoring this backup now would lose. */
export interface RecoveryPoint {
  /** Seconds from the backup's snapshot to now. */
  backupAgeSeconds: number;
  /** The newest row in any hypertable at backup time (ISO), if any. */
  newestData: string | null;
  /** Seconds from that row to the snapshot: data that was already missing when it was taken. */
  dataAgeAtBackupSeconds: number | null;
}

export interface DrillReport {
  backup: { id: string; path: string; createdAt: string; bytes: number; sha256: string };
  ok: boolean;
  checks: CheckResult[];
  /** Every difference found, one line each (what the manifest records). */
  differences: string[];
  /** Restore time objective: creating the copy, pg_restore and TimescaleDB's post-restore step. */
  rtoSeconds: number | null;
  phases: RestorePhase[];
  /** Wall-clock time of the whole drill, checks included. */
  seconds: number;
  rpo: RecoveryPoint;
  /** Where it was restored (dropped again). */
  scratch: string | null;
  /** Leftovers of interrupted drills and restores that this run removed. */
  cleaned: string[];
  /** The version the copy was restored at (the dump's) and the one it was updated to. */
  timescaledb: ExtensionVersionsReport;
  verification: Verification;
}

export function recoveryPoint(manifest: Manifest, now: Date): RecoveryPoint {
  const created = new Date(manifest.createdAt).getTime();
  const newest = manifest.fingerprint.newestData;
  return {
    backupAgeSeconds: Math.max(0, Math.round((now.getTime() - created) / 1000)),
    newestData: newest,
    dataAgeAtBackupSeconds: newest ? Math.max(0, Math.round((created - new Date(newest).getTime()) / 1000)) : null,
  };
}

/** The dump's sha256 and size against the manifest's. */
export async function checkChecksum(entry: CatalogEntry, manifest: Manifest): Promise<CheckResult> {
  const actual = await hashFile(entry.dumpPath!).catch((error: NodeJS.ErrnoException) => {
    throw new OpsError('VERIFY', `cannot read the dump ${entry.dumpPath} (${error.code ?? error.message}): check the backup directory`, { cause: error });
  });
  const problems: string[] = [];
  if (actual.bytes !== manifest.dump.bytes) problems.push(`checksum: the dump is ${actual.bytes} bytes, the manifest says ${manifest.dump.bytes} (truncated or replaced)`);
  if (actual.sha256 !== manifest.dump.sha256) problems.push(`checksum: the dump's sha256 is ${actual.sha256}, the manifest says ${manifest.dump.sha256} (damaged, or the manifest belongs to another dump)`);
  return problems.length > 0
    ? { name: 'checksum', ok: false, detail: problems[0]!, differences: problems }
    : { name: 'checksum', ok: true, detail: `sha256 ${manifest.dump.sha256.slice(0, 16)}… matches (${actual.bytes} bytes)`, differences: [] };
}

const throwIfAborted = (signal?: AbortSignal) => {
  if (signal?.aborted) throw new OpsError('ABORTED', 'interrupted');
};

/** The TimescaleDB versions of a restored copy: the dump's, and the one it was updated to. */
export interface ExtensionVersionsReport {
  restoredAt: string | null;
  updatedTo: string | null;
}

/**
 * The checks a restored copy must pass before it counts, after it was given the source's job
 * states (carryJobStates): fingerprint, migration ledger, jobs and
 * continuous aggregates while TimescaleDB's restoring mode still holds background jobs off; then
 * post-restore, restoring mode off for new sessions, and a refresh of every continuous aggregate.
 * Then, when the server's TimescaleDB (or `updateTo`) is newer than the dump's, ALTER EXTENSION
 * UPDATE in a fresh session and the checks again: data as before the update, jobs, aggregates,
 * refresh. Returns the check results; the copy is left in post-restore state, updated.
 */
export async function checkCopy(copy: ScratchCopy, manifest: Manifest, refresh: 'full' | 'probe', signal?: AbortSignal, updateTo?: string): Promise<{ checks: CheckResult[]; finishSeconds: number; extension: ExtensionVersionsReport }> {
  const checks: CheckResult[] = [];
  const session = await copy.open();
  try {
    await carryJobStates(session.client, manifest);
    checks.push(await checkFingerprint(session.client, manifest));
    checks.push(await checkMigrations(session.client, manifest));
    checks.push(await checkJobs(session.client, manifest));
    checks.push(await checkAggregatesExist(session.client, manifest));
  } finally {
    await session.close();
  }
  throwIfAborted(signal);
  const finishStarted = performance.now();
  await copy.finish();
  const finishSeconds = (performance.now() - finishStarted) / 1000;
  checks.push(restoringCheck(await copy.restoringOff()));
  const after = await copy.open();
  try {
    checks.push(await checkRefresh(after.client, manifest, refresh));
  } finally {
    await after.close();
  }
  const restoredAt = manifest.versions.timescaledb;
  // Only a copy that passed at the dump's version is worth updating: a failure there is the backup's.
  if (restoredAt === null || checks.some((c) => !c.ok)) return { checks, finishSeconds, extension: { restoredAt, updatedTo: restoredAt } };
  throwIfAborted(signal);
  let update;
  let before: Fingerprint | undefined;
  // The data as it is just before the update, taken only when there will be one.
  const fingerprintBefore = async () => {
    const session = await copy.open();
    try {
      before = await takeFingerprint(session.client);
    } finally {
      await session.close();
    }
  };
  try {
    update = await copy.updateExtension(updateTo, fingerprintBefore);
  } catch (error) {
    checks.push({ name: 'extension update', ok: false, detail: (error as Error).message, differences: [`extension update: ${(error as Error).message}`] });
    return { checks, finishSeconds, extension: { restoredAt, updatedTo: restoredAt } };
  }
  if (update.to === update.from) return { checks, finishSeconds, extension: { restoredAt, updatedTo: update.to } };
  checks.push({ name: 'extension update', ok: true, detail: `TimescaleDB ${update.from} → ${update.to} in ${update.seconds.toFixed(1)} s (a fresh session, first statement)`, differences: [] });
  const updated = await copy.open();
  try {
    checks.push(await checkUnchangedByUpdate(updated.client, before!, update.to!));
    for (const check of [await checkJobs(updated.client, manifest), await checkAggregatesExist(updated.client, manifest), await checkRefresh(updated.client, manifest, refresh)]) {
      checks.push({ ...check, detail: `after the update: ${check.detail}`, differences: check.differences.map((d) => `after the update to ${update.to}: ${d}`) });
    }
  } finally {
    await updated.close();
  }
  return { checks, finishSeconds, extension: { restoredAt, updatedTo: update.to } };
}

export interface DrillOptions {
  /** Where the drill restores: an open Target, or restoreSitesOf(spec) (its server, or beside its embedded database). */
  target: RestoreSites;
  backupDir: string;
  /** A backup id or folder; default: the newest backup. */
  backup?: string;
  mode?: RestoreMode;
  signal?: AbortSignal;
  logger?: Logger;
  now?: () => Date;
  /** Keep the manifest as it is (benchmarks). */
  record?: boolean;
  /** Update the restored copy to this TimescaleDB version; default: the server's default version. */
  updateTo?: string;
  /** Create missing roles (NOLOGIN) instead of refusing: the new server of a major upgrade has none. */
  createRoles?: boolean;
}

/**
 * The restore drill (`aetherlens-db verify`): checks the dump's sha256, restores it into a scratch
 * database (a scratch data directory on the embedded target) with TimescaleDB's procedure, runs
 * every check of checkCopy(), measures RTO and RPO, records the verdict in the manifest and drops
 * the scratch copy, also on failure and on interrupt. A mismatch is a result (ok: false), not an
 * exception; exceptions mean the drill could not be run (the backup then stays as it was).
 */
export async function drill(options: DrillOptions): Promise<DrillReport> {
  return drillCatalogLocked(options);
}

async function drillCatalogLocked(options: DrillOptions, ahead?: DrillAhead): Promise<DrillReport> {
  const backupRef = options.backup ?? 'latest';
  // Rotation must not delete the backup while we read it (catalogLock.ts).
  const lock = await readCatalog(options.backupDir, { command: 'verify', backup: backupRef, ...(options.logger ? { logger: options.logger } : {}) });
  try {
    return await drillLocked(options, backupRef, ahead);
  } finally {
    await lock.release();
  }
}

/** A drill's site and scratch copy, made ready before the backup it will drill exists. */
interface DrillAhead {
  site: RestoreSite;
  cleaned: string[];
  scratch?: PreparedScratch;
}

/** A drill whose scratch copy is being prepared; run it once, or cancel it. */
export interface PreparedDrill {
  run(backup: string): Promise<DrillReport>;
  cancel(): Promise<void>;
}

/**
 * Opens the drill's site and starts preparing its scratch copy now (on the embedded target, a new
 * cluster's engine starting in a thread of its own), so that work runs beside the caller's: the
 * quickstart takes its backup meanwhile, then drills it. The report is the same as drill()'s; the
 * restore time still counts the preparation.
 */
export async function prepareDrill(options: Omit<DrillOptions, 'backup'>): Promise<PreparedDrill> {
  const { logger, now } = drillDefaults(options);
  const site = await openDrillSite(options);
  let ahead: DrillAhead;
  try {
    const cleaned = await site.cleanLeftovers(logger);
    const scratch = site.prepareScratch?.('drill', site.scratchName(site.defaultLive, 'drill', now()).scratch);
    ahead = { site, cleaned, ...(scratch ? { scratch } : {}) };
  } catch (error) {
    await site.close();
    throw error;
  }
  let used = false;
  const use = () => {
    if (used) throw new OpsError('VERIFY', 'a prepared drill runs once');
    used = true;
  };
  return {
    async run(backup) {
      use();
      try {
        return await drillCatalogLocked({ ...options, backup }, ahead);
      } finally {
        await ahead.scratch?.discard();
        await site.close();
      }
    },
    async cancel() {
      if (used) return;
      used = true;
      await ahead.scratch?.discard();
      await site.close();
    },
  };
}

/** The logger and clock a drill reports through, the caller's or the defaults. */
function drillDefaults(options: Pick<DrillOptions, 'logger' | 'now'>): { logger: Logger; now: () => Date } {
  return { logger: options.logger ?? silentLogger, now: options.now ?? (() => new Date()) };
}

/** The drill's site: a scratch place on the target's server, or beside its embedded database. */
const openDrillSite = (options: Pick<DrillOptions, 'target'>): Promise<RestoreSite> => options.target.openRestoreSite({ purpose: 'drill', command: 'verify' });

async function drillLocked(options: DrillOptions, backupRef: string, ahead?: DrillAhead): Promise<DrillReport> {
  const { logger, now } = drillDefaults(options);
  const started = performance.now();
  const entry = await findBackup(options.backupDir, backupRef);
  await assertTrustedBackup(dirname(entry.path), entry.path, entry.manifest?.dump.file);
  const manifest = entry.manifest;
  if (!manifest || !entry.dumpPath) throw new OpsError('VERIFY', `backup ${entry.id} cannot be drilled: ${entry.problem ?? 'it has no readable manifest'}`);
  const site: RestoreSite = ahead?.site ?? await openDrillSite(options);
  let copy: ScratchCopy | undefined;
  let scratch: string | null = null;
  const checks: CheckResult[] = [];
  let rtoSeconds: number | null = null;
  let cleaned: string[] = [];
  let extension: ExtensionVersionsReport = { restoredAt: manifest.versions.timescaledb, updatedTo: null };
  const onAbort = () => void copy?.discard();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    cleaned = ahead ? ahead.cleaned : await site.cleanLeftovers(logger);
    logger.info(`checking the sha256 of ${entry.id}`);
    checks.push(await checkChecksum(entry, manifest));
    if (checks[0]!.ok) {
      throwIfAborted(options.signal);
      scratch = ahead?.scratch?.scratch ?? site.scratchName(site.defaultLive, 'drill', now()).scratch;
      const into = scratch;
      try {
        copy = await site.restoreCopy({
          manifest, dumpPath: entry.dumpPath, purpose: 'drill', scratch, mode: options.mode ?? DEFAULT_RESTORE_MODE,
          check: (facts) => assertRestorable(manifest, facts),
          starting: () => logger.info(`restoring ${entry.id} into ${into}`),
          logger, ...(options.signal ? { signal: options.signal } : {}), ...(options.createRoles ? { createRoles: true } : {}),
        });
      } catch (error) {
        if (options.signal?.aborted || !isBackupFault(error)) throw error;
        checks.push({ name: 'restore', ok: false, detail: (error as Error).message, differences: [`restore: ${(error as Error).message}`] });
      }
      if (copy) {
        throwIfAborted(options.signal);
        logger.info(`restored in ${copy.restoreSeconds.toFixed(1)} s; comparing with the backup`);
        const checked = await checkCopy(copy, manifest, 'full', options.signal, options.updateTo);
        checks.push(...checked.checks);
        extension = checked.extension;
        // RTO: the restore itself plus post-restore; the comparison is the drill's own cost.
        rtoSeconds = copy.restoreSeconds + checked.finishSeconds;
      }
    }
  } catch (error) {
    if (options.signal?.aborted) throw new OpsError('ABORTED', `verify interrupted: the scratch copy ${scratch ?? ''} was removed; the backup was not marked`.replace('  ', ' '), { cause: error });
    throw isOpsError(error) ? error : new OpsError('VERIFY', `the drill could not run: ${(error as Error).message}`, { cause: error });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await copy?.discard();
    // A prepared site is its owner's to close (prepareDrill's run()).
    if (!ahead) await site.close();
  }
  const differences = checks.flatMap((c) => c.differences);
  const seconds = (performance.now() - started) / 1000;
  const rpo = recoveryPoint(manifest, now());
  const verification: Verification = {
    verifiedAt: now().toISOString(),
    result: differences.length === 0 ? 'passed' : 'failed',
    seconds: Math.round(seconds * 1000) / 1000,
    differences,
    restoreSeconds: rtoSeconds === null ? null : Math.round(rtoSeconds * 1000) / 1000,
    restoredOn: options.target.kind,
    checks: checks.map((c) => ({ name: c.name, ok: c.ok, detail: c.detail })),
    dataAgeAtBackupSeconds: rpo.dataAgeAtBackupSeconds,
    timescaledb: extension,
  };
  if (options.record !== false) await recordVerification(entry.path, verification);
  return {
    backup: { id: entry.id, path: entry.path, createdAt: manifest.createdAt, bytes: manifest.dump.bytes, sha256: manifest.dump.sha256 },
    ok: differences.length === 0,
    checks,
    differences,
    rtoSeconds,
    phases: copy?.phases ?? [],
    seconds,
    rpo,
    scratch,
    cleaned,
    timescaledb: extension,
    verification,
  };
}
