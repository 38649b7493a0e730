// The library's public surface: what the CLI (ops/commands, ops/cli.ts), the Pulumi step (infra/)
// and the tests use, and nothing else; the rest of ops/lib stays internal.
export { OpsError, isOpsError } from './errors.js';
export { AETHERLENS_VERSION } from './version.js';
export { consoleLogger, jsonLogger, memoryLogger, silentLogger, type Logger } from './logger.js';
export { parseDatabaseUrl, describeConnection, redact, type ConnectionInfo } from './connection.js';
export { rememberUrlSecrets, rememberEnvironmentSecrets } from './secrets.js';
export { resolveSettings, type Settings, type TargetSpec, type CommonFlags } from './config.js';
export { jobEnvironmentFrom } from './settings/childEnvironment.js';
export { AETHERLENS_VARIABLES, STANDARD_VARIABLES, KNOWN_ENV } from './settings/variables.js';
export { openTarget, withTarget, targetTraits, restoreSitesOf } from './targets/open.js';
export type { Target, TargetCapabilities, RestoreSites } from './targets/types.js';
export { pgSqlClient, pgliteSqlClient } from './targets/sqlClient.js';
export {
  backup,
  DUMP_COMPRESSION_LEVEL,
  type BackupResult,
  listCatalog,
  findBackup,
  type CatalogEntry,
  type BackupStatus,
  readManifest,
  writeManifest,
  recordVerification,
  type Manifest,
  compareFingerprints,
  takeFingerprint,
  type Fingerprint,
  classifyDumpStderr,
  assertDumpToolFits,
  planRotation,
  resolveRetention,
  type RotationInput,
  rotate,
  type RotateResult,
  deleteFromCatalog,
  acquireBackupLock,
  cleanAbandoned,
  hashFile,
  formatBytes,
  formatCheck,
  formatSeconds,
} from './backup/index.js';
export { migrate, migrationStatus, type MigrateResult, type StatusResult } from './migrations/runner.js';
export { adopt } from './migrations/adopt.js';
export { loadMigrations, loadInitScripts, migrationSetChecksum, DEFAULT_MIGRATIONS_DIR } from './migrations/files.js';
export { inventory, type Inventory } from './inventory.js';
export { inspectTimescale } from './timescale.js';
export { compareVersions, readExtensionVersions, updateTarget } from './extensionUpdate.js';
export { serveEmbedded, embeddedStatus, stopEmbedded, DEFAULT_SERVE_PORT } from './embedded/serve.js';
export { runDueJobs } from './embedded/jobs.js';
export { openEmbeddedEngine, prepareClusterTemplate } from './embedded/engine.js';
export { stopBusyEngines } from './embedded/engineThread.js';
export { compileWasmOnce } from './embedded/wasmTier.js';
export { ENGINE_ID } from './embedded/layout.js';
export { startScheduler } from './scheduler/scheduler.js';
export { resolveScheduleSettings, parseDuration, type ScheduleFlags } from './scheduler/settings.js';
export { backupHealth, formatAge, type BackupHealth } from './scheduler/health.js';
export { targetLabel } from './scheduler/targetEnvironment.js';
export { lastVerifiedBackup } from './scheduler/verified.js';
export { findJob, listJobs } from './scheduler/jobFiles.js';
export { runJob, isNoise } from './scheduler/jobRunner.js';
export { recordRun } from './scheduler/jobRecord.js';
export { seed, type SeedSummary } from './seed/index.js';
export { quickstart, type QuickstartReport } from './quickstart.js';
export {
  drill,
  prepareDrill,
  type PreparedDrill,
  type DrillReport,
  restore,
  type RestoreReport,
  type RestoreSummary,
  parseBefore,
  type RestoreMode,
  describeSession,
  compareAcrossUpdate,
  type CheckResult,
} from './restore/index.js';
export { upgrade, rollbackSteps, type UpgradeReport } from './upgrade/upgrade.js';
