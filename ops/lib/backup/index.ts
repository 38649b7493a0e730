/**
 * Backups (DESIGN section 5, issue 4): the public API for commands, the scheduler and drills.
 *
 * Layout of a backup directory (0700):
 *
 *     DIR/20261125T061906Z-aetherlens/      one folder per backup, named by its id (0700)
 *           manifest.json                   Manifest, format MANIFEST_FORMAT (0600)
 *           aetherlens.dump                 pg_dump -Fc (server, docker)  — or aetherlens.sql.gz (embedded)
 *     DIR/.partial-<id>-<host>-<pid>/       a backup being written; invisible to the catalog
 *     DIR/.deleting-<id>-<host>-<pid>/      a backup being deleted by rotate
 *     DIR/.backup-<key>.owner.json, .rotate.owner.json  who holds the locks (fileLock.ts: the
 *                                           kernel holds them; these files only name the holder;
 *                                           .rotate is the catalog lock, see below)
 *
 * Taking a backup
 *   backup({ target, dir, logger?, signal? }) → BackupResult { id, path, dumpPath, manifest }
 *     Lock per target+dir ("backup already running (pid …, since …)"), cleanup of what killed
 *     runs left, pg_dump version check, dump + fingerprint from one snapshot, sha256, manifest,
 *     fsync, atomic rename. Throws OpsError (one line); never leaves a partial backup.
 *
 * Reading the catalog
 *   listCatalog(dir) → CatalogEntry[] oldest first: { id, path, createdAt, status, manifest?,
 *     dumpPath?, problem? }; status is 'verified' | 'unverified' | 'failed' | 'broken'.
 *   findBackup(dir, idOrPathOr'latest'|'latest-verified') → CatalogEntry (OpsError NOT_FOUND).
 *   readManifest(backupPath) / writeManifest(backupPath, m): atomic, format-checked.
 *   recordVerification(backupPath, { verifiedAt, result: 'passed'|'failed', seconds,
 *     differences, ...more }) → Manifest: what a restore drill writes when it is done.
 *   hashFile(path) → { sha256, bytes }: check a dump against manifest.dump.sha256/bytes.
 *
 * Fingerprints (compare a restored database with the backup)
 *   takeFingerprint(client, { transaction?: 'own' | 'caller' }) → Fingerprint. `client` is a
 *     SqlClient: pgSqlClient(pg.Client) or pgliteSqlClient(PGlite) from targets/sqlClient.ts.
 *   compareFingerprints(expected, actual) → string[], e.g.
 *     "table metrics: chunk _hyper_1_3_chunk row count 2016 → 2015"; [] when equal.
 *   readDatabaseFacts(client) → { database, serverVersion, timescaledb, edition, migrationHead }.
 *   Fingerprint.jobs / .continuousAggregates list what a drill must find present and scheduled;
 *   Fingerprint.newestData is the newest hypertable timestamp (data age at backup time, RPO).
 *
 * Rotation
 *   planRotation(entries, policy) → RotationPlan (pure, with a reason per backup);
 *   rotate({ dir, policy, dryRun? }) applies it; resolveRetention(flags, env) validates counts.
 *   The catalog lock (catalogLock.ts): readCatalog(dir, { command, backup? }) is held shared by
 *   whatever reads a backup to restore it (drill, restore) and waits for a running rotation;
 *   deleteFromCatalog(dir) is held exclusively by rotate, which refuses while a reader is there.
 *
 * Trust (trust.ts): assertTrustedBackupDir(dir), assertTrustedBackup(dir, folder, dumpFile?)
 *   refuse paths that another user owns or anyone but the owner may write.
 *
 * Helpers for other writers: writeFileAtomic, publishDir, createPrivateDir/File, fsyncDir,
 * FILE_MODE/DIR_MODE (atomicWrite.ts); formatBytes/formatSeconds/formatCheck (format.ts).
 */
export { backup, DUMP_COMPRESSION_LEVEL, type BackupOptions, type BackupResult } from './backup.js';
export { listCatalog, findBackup, statusOf, backupId, timeOfId, BACKUP_ID_PATTERN, type CatalogEntry, type BackupStatus } from './catalog.js';
export { readManifest, writeManifest, recordVerification, manifestPath, MANIFEST_FORMAT, MANIFEST_FILE, type Manifest, type Verification } from './manifest.js';
export { compareFingerprints } from './compare.js';
export { takeFingerprint, FINGERPRINT_FORMAT, type Fingerprint, type TablePrint, type HypertablePrint, type ChunkPrint, type ContinuousAggregatePrint, type JobPrint } from './fingerprint.js';
export { readDatabaseFacts, type DatabaseFacts } from './facts.js';
export { classifyDumpStderr, type NoticeTally, type NoticeKind } from './notices.js';
export { assertDumpToolFits } from './toolCheck.js';
export { planRotation, resolveRetention, DEFAULT_RETENTION, type RetentionPolicy, type RotationPlan, type RotationDecision, type RotationInput } from './rotation.js';
export { rotate, rotationLockPath, type RotateResult } from './rotate.js';
export { readCatalog, deleteFromCatalog, catalogLockPath, READER_WAIT_MS } from './catalogLock.js';
export { assertTrustedBackupDir, assertTrustedBackup } from './trust.js';
export { acquireBackupLock, backupLockPath } from './lock.js';
export { cleanAbandoned, STAGING_PREFIX, DELETING_PREFIX } from './staging.js';
export { writeFileAtomic, publishDir, createPrivateDir, createPrivateFile, fsyncDir, fsyncFile, hashFile, FILE_MODE, DIR_MODE } from './atomicWrite.js';
export { formatBytes, formatCheck, formatSeconds } from './format.js';
export { watchProgress, PROGRESS_AFTER_MS } from './progress.js';
