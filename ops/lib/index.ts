// The library's public surface: the CLI, the Pulumi post-deploy step and the tests use only this.
export { OpsError, isOpsError, type OpsErrorCode } from './errors.js';
export { consoleLogger, jsonLogger, memoryLogger, silentLogger, type Logger } from './logger.js';
export { parseDatabaseUrl, describeConnection, connectionUrl, redact, type ConnectionInfo } from './connection.js';
export { resolveSettings, type Settings, type TargetSpec, type CommonFlags } from './config.js';
export { openTarget, withTarget } from './targets/open.js';
export type { Target, TargetKind } from './targets/types.js';
export { migrate, migrationStatus, type MigrateOptions, type MigrateResult, type StatusResult } from './migrations/runner.js';
export { adopt } from './migrations/adopt.js';
export { loadMigrations, loadInitScripts, migrationSetChecksum, DEFAULT_MIGRATIONS_DIR } from './migrations/files.js';
export { inventory, type Inventory } from './inventory.js';
export { inspectTimescale, PRODUCTION_IMAGE } from './timescale.js';
export { serveEmbedded, embeddedStatus, stopEmbedded, DEFAULT_SERVE_PORT } from './embedded/serve.js';
export { runDueJobs, type JobRun } from './embedded/jobs.js';
export { openEmbeddedEngine, checkDataDir, ENGINE_ID } from './embedded/engine.js';
