import { existsSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isOpsError, OpsError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { DumpOutcome, DumpSession, Target } from '../targets/types.js';
import { createPrivateFile, FILE_MODE, hashFile, publishDir } from './atomicWrite.js';
import { backupId } from './catalog.js';
import { compareFingerprints } from './compare.js';
import { AETHERLENS_VERSION } from '../version.js';
import { readDatabaseFacts } from './facts.js';
import { takeFingerprint, type Fingerprint } from './fingerprint.js';
import { acquireBackupLock } from './lock.js';
import { MANIFEST_FORMAT, manifestPath, type Manifest } from './manifest.js';
import { classifyDumpStderr } from './notices.js';
import { watchProgress, type ProgressTiming } from './progress.js';
import { cleanAbandoned, createStaging, type Staging } from './staging.js';
import { assertDumpToolFits } from './toolCheck.js';
import { assertTrustedBackupDir } from './trust.js';

/**
 * gzip level for the dump. Measured (DESIGN section 5, test/bench/backup.bench.ts): level 1 takes
 * 0.3-0.4x the time of pg_dump's default level for 1.07-1.12x the size; compressed chunks are
 * already compressed, so higher levels mostly burn CPU. PostgreSQL 15's pg_dump has only gzip.
 */
export const DUMP_COMPRESSION_LEVEL = 1;

export interface BackupOptions {
  target: Target;
  /** The backup directory; created (0700) if missing. */
  dir: string;
  logger?: Logger;
  /** Aborting stops the dump and removes everything this run wrote. */
  signal?: AbortSignal;
  compressionLevel?: number;
  /** When progress lines start and how often they come (defaults: after 3 s, every second). */
  progress?: ProgressTiming;
}

export interface BackupResult {
  id: string;
  /** The backup's folder: manifest.json and the dump. */
  path: string;
  dumpPath: string;
  manifest: Manifest;
  /** What interrupted earlier runs had left behind and this run removed. */
  cleaned: string[];
}

function directoryError(dir: string, error: unknown): OpsError {
  const code = (error as NodeJS.ErrnoException).code;
  const choose = 'choose another --dir (or AETHERLENS_BACKUP_DIR)';
  const why = code === 'ENOTDIR' || code === 'EEXIST' ? `part of the path is a file, not a directory: ${choose}`
    : code === 'EROFS' ? `it is on a read-only file system: ${choose}`
      : code === 'EACCES' || code === 'EPERM' ? `it is not writable by this user: fix its permissions or ${choose}`
        : code === 'ENOSPC' ? `its disk is full: free some space or ${choose}`
          : `${(error as Error).message}: ${choose}`;
  return new OpsError('BACKUP', `cannot write backups to ${dir}: ${why}; nothing was written`, { cause: error });
}

/**
 * Creates the backup directory (0700), refuses it if others could write it, and proves it
 * writable, before anything else happens.
 */
async function prepareDirectory(dir: string, logger: Logger): Promise<void> {
  const s = await mkdir(dir, { recursive: true, mode: 0o700 }).then(() => stat(dir)).catch((error: unknown) => {
    throw directoryError(dir, error);
  });
  if (!s.isDirectory()) throw directoryError(dir, Object.assign(new Error('not a directory'), { code: 'ENOTDIR' }));
  await assertTrustedBackupDir(dir);
  if ((s.mode & 0o077) !== 0) logger.warn(`the backup directory ${dir} is open to other users (mode ${(s.mode & 0o777).toString(8)}): chmod 700 it`);
  try {
    const probe = join(dir, `.write-test-${process.pid}`);
    await writeFile(probe, '', { mode: FILE_MODE });
    await rm(probe, { force: true });
  } catch (error) {
    throw directoryError(dir, error);
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, seconds: (performance.now() - started) / 1000 };
}

/** A failure after the staging folder exists, as one line that says nothing was kept. */
function failure(error: unknown, signal?: AbortSignal): OpsError {
  if (signal?.aborted) return new OpsError('ABORTED', 'backup interrupted: the partial backup was removed and older backups are untouched', { cause: error });
  const code = (error as NodeJS.ErrnoException).code;
  const message = isOpsError(error) ? error.message
    : code === 'ENOSPC' ? 'the disk holding the backup directory is full (No space left on device)'
      : `the database connection failed: ${(error as Error).message}`;
  return new OpsError(isOpsError(error) ? error.code : 'BACKUP', `backup failed: ${message}; the partial backup was removed and older backups are untouched`, { cause: error });
}

/** Dump and fingerprint from one consistent view of the data (see DumpSession.consistency). */
async function dumpAndFingerprint(session: DumpSession, dump: () => Promise<DumpOutcome>) {
  if (session.consistency === 'snapshot') {
    // Same snapshot, separate connections: the fingerprint runs while pg_dump works.
    const [fp, out] = await Promise.allSettled([timed(() => takeFingerprint(session.client, { transaction: 'caller' })), timed(dump)]);
    if (out.status === 'rejected') throw out.reason;
    if (fp.status === 'rejected') throw fp.reason;
    return { fingerprint: fp.value, outcome: out.value };
  }
  const before = await timed(() => takeFingerprint(session.client));
  const outcome = await timed(dump);
  const after: Fingerprint = await takeFingerprint(session.client);
  const changed = compareFingerprints(before.value, after);
  if (changed.length > 0) {
    throw new OpsError('BACKUP', `the database changed while it was being dumped (${changed[0]}${changed.length > 1 ? `, and ${changed.length - 1} more` : ''}): something wrote to it through the embedded server's socket; run the backup again`);
  }
  return { fingerprint: before, outcome };
}

async function backupLocked(dir: string, options: BackupOptions, logger: Logger): Promise<Omit<BackupResult, 'cleaned'>> {
  const { target, signal } = options;
  const started = performance.now();
  const tools = await target.toolVersions();
  const session = await target.openDumpSession();
  const createdAt = new Date();
  const onAbort = () => void session.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  let staging: Staging | undefined;
  try {
    const facts = await readDatabaseFacts(session.client);
    assertDumpToolFits(tools.pgDump, facts.serverVersion);
    const name = target.backupName(facts.database);
    let id = backupId(createdAt, name);
    for (let n = 2; existsSync(join(dir, id)); n++) id = `${backupId(createdAt, name)}-${n}`;
    staging = await createStaging(dir, id);
    const dumpName = `${id.replace(/^[^-]+-/, '')}${session.format === 'custom' ? '.dump' : '.sql.gz'}`;
    const dumpFile = join(staging.path, dumpName);
    await createPrivateFile(dumpFile);
    const compressionLevel = options.compressionLevel ?? DUMP_COMPRESSION_LEVEL;
    const stage = staging;
    const progress = watchProgress(dumpFile, logger, `backup ${id}`, options.progress);
    let read: Awaited<ReturnType<typeof dumpAndFingerprint>>;
    try {
      read = await dumpAndFingerprint(session, () => session.dump({
        file: dumpFile, compressionLevel, ...(signal ? { signal } : {}),
        onSpawn: (pid) => void stage.recordToolPid(pid).catch(() => {}),
      }));
    } finally {
      progress.stop();
    }
    await session.close();
    const notices = classifyDumpStderr(read.outcome.value.stderr);
    if (notices.unexpected.length > 0) {
      const more = notices.unexpected.length > 1 ? ` (and ${notices.unexpected.length - 1} more)` : '';
      throw new OpsError('BACKUP', `pg_dump reported a problem, so the dump cannot be trusted: ${notices.unexpected[0]}${more}`);
    }
    const checksum = await timed(() => hashFile(dumpFile));
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      id,
      createdAt: createdAt.toISOString(),
      target: { kind: target.kind, label: target.label, database: facts.database },
      versions: { server: facts.serverVersion, pgDump: tools.pgDump.version, pgDumpAt: tools.pgDump.where, timescaledb: facts.timescaledb, edition: facts.edition, aetherlensDb: AETHERLENS_VERSION },
      migrationHead: facts.migrationHead,
      dump: { file: dumpName, format: session.format, compression: `gzip level ${compressionLevel}`, bytes: checksum.value.bytes, sha256: checksum.value.sha256 },
      durationSeconds: (performance.now() - started) / 1000,
      timings: { dump: read.outcome.seconds, fingerprint: read.fingerprint.seconds, checksum: checksum.seconds },
      notices: notices.allowed,
      fingerprint: read.fingerprint.value,
      verification: null,
    };
    await staging.seal();
    const manifestFile = manifestPath(staging.path);
    await createPrivateFile(manifestFile);
    await writeFile(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
    const path = join(dir, id);
    await publishDir(staging.path, path, [join(staging.path, dumpName), manifestFile]);
    return { id, path, dumpPath: join(path, dumpName), manifest };
  } catch (error) {
    // Before the staging folder exists nothing was written: our own errors pass through as they are.
    if (!staging && isOpsError(error) && !signal?.aborted) throw error;
    await staging?.remove().catch(() => {});
    throw failure(error, signal);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await session.close();
  }
}

/**
 * Takes one backup of `target` into `dir`: a whole-database dump and a manifest with its sha256,
 * versions, migration head and a fingerprint of the data from the same snapshot. Written under a
 * temporary name, fsynced, then renamed: the backup appears complete or not at all. One backup per
 * target and directory at a time. Throws OpsError with one line; nothing is left behind.
 */
export async function backup(options: BackupOptions): Promise<BackupResult> {
  const logger = options.logger ?? silentLogger;
  const dir = resolve(options.dir);
  await prepareDirectory(dir, logger);
  const lock = await acquireBackupLock(dir, options.target.backupLockKey);
  try {
    const cleaned = await cleanAbandoned(dir, logger);
    return { ...(await backupLocked(dir, options, logger)), cleaned };
  } finally {
    await lock.release();
  }
}
