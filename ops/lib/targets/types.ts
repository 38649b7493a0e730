import type { ConnectionInfo } from '../connection.js';
import type { JobRun, RunJobsOptions } from '../embedded/jobs.js';
import type { ScratchPurpose } from './names.js';
import type { RestoreSite } from './restoreSite.js';
import type { SqlClient } from './sqlClient.js';

export type TargetKind = 'server' | 'docker' | 'embedded';

/** A PostgreSQL client program a target runs, and where it runs. */
export interface ToolVersion {
  name: 'pg_dump';
  /** e.g. "15.20" */
  version: string;
  /** Where it runs, for messages: a host path, "container NAME", or "in-process (...)". */
  where: string;
  /** How an operator changes it, which decides the fix a version mismatch names. */
  origin: 'host' | 'container' | 'in-process';
}

export interface ToolVersions {
  pgDump: ToolVersion;
}

/** What a dump file holds: pg_dump's custom format, or plain SQL compressed with gzip (embedded). */
export type DumpFormat = 'custom' | 'sql-gzip';

export interface DumpOptions {
  /** The file to write; the caller created it (0600) inside a private temporary directory. */
  file: string;
  /** gzip level 0-9 for the dump's data (DESIGN section 5: chosen by measurement). */
  compressionLevel: number;
  signal?: AbortSignal;
  /** Called with the pid of the dumping program, so a later run can stop an orphan. */
  onSpawn?: (pid: number) => void;
}

export interface DumpOutcome {
  /** Everything the dump tool wrote on stderr; the caller decides which of it is benign. */
  stderr: string;
}

/**
 * A consistent read of the database for one backup: a SQL client that sees exactly the data the
 * dump sees, and the dump itself. Close it whatever happens.
 */
export interface DumpSession {
  /** Reads the data the dump sees (fingerprint, versions, migration head). */
  readonly client: SqlClient;
  /**
   * 'snapshot': `client` is inside a REPEATABLE READ transaction whose exported snapshot the dump
   * imports, so both may run at the same time and see the same data.
   * 'exclusive': `client` and the dump take turns on the only session there is; a writer could
   * slip in between them, so the caller fingerprints before and after the dump and compares.
   */
  readonly consistency: 'snapshot' | 'exclusive';
  readonly format: DumpFormat;
  dump(options: DumpOptions): Promise<DumpOutcome>;
  close(): Promise<void>;
}

/** What the backup lock of a target is keyed by: a backup and a restore of one target share it. */
export interface BackupLockKey {
  kind: TargetKind;
  label: string;
}

/** Running TimescaleDB's policy jobs on demand; state says where their last runs are kept. */
export type PolicyJobOptions = Omit<RunJobsOptions, 'stateDir'>;

/**
 * What is known of a configured target before it is opened (nothing is reached for it): what the
 * scheduler writes in its status file and logs, and what a job needs to reach the same target.
 */
export interface TargetTraits {
  /** A description safe for logs and the status file: never a password. */
  readonly label: string;
  /** True when the server runs TimescaleDB's policies with its own background workers. */
  readonly runsPolicyJobsItself: boolean;
  /** The variables an `aetherlens-db` child process needs to reach this same target. */
  readonly jobEnv: Record<string, string>;
  /** Passwords the spec itself carries, to blank out of logs. */
  readonly secrets: string[];
  /**
   * The data directory this program opens the database from in-process (what `local` and
   * `quickstart` work on); undefined when a server holds the database.
   */
  readonly inProcessDataDir?: string;
}

/** What a restore site is opened for: a drill's scratch copy, or a restore that replaces the live data. */
export interface RestoreSiteRequest {
  purpose: ScratchPurpose;
  /** Who opens it, for lock owner files and messages: "verify", "restore". */
  command: string;
}

/**
 * Where drills and restores get their RestoreSite. An open Target is one; so is
 * restoreSitesOf(spec) (targets/open.ts), which opens nothing until asked: a restore replaces the
 * embedded data directory, which an open embedded Target holds (its engine and its lock).
 */
export interface RestoreSites {
  /** Recorded in manifests (which kind a drill ran on); never compared outside targets/. */
  readonly kind: TargetKind;
  /**
   * Opens the place this target restores to (restoreSite.ts); the caller closes it. For a restore
   * on the embedded target it takes the data directory's lock, refusing while anything (`local
   * serve`, or an open Target of this same process) has the database open.
   */
  openRestoreSite(request: RestoreSiteRequest): Promise<RestoreSite>;
}

/**
 * What an operation may ask of a target instead of its kind: each answer is defined per kind in
 * targets/<kind>/ (server and docker: a PostgreSQL server; embedded: the in-process engine).
 */
export interface TargetCapabilities {
  /**
   * 'many': every client gets a session of its own, so a probe or a second loader session can open
   * beside the first. 'shared-single': one session serves every client in turn (the embedded
   * engine); a second connection would wait for the first.
   */
  readonly sessions: 'many' | 'shared-single';
  /**
   * 'preloaded': TimescaleDB is in shared_preload_libraries. 'loaded-on-open': the engine runs
   * LOAD 'timescaledb' and creates the extension when it opens, so the library is always loaded.
   */
  readonly timescaleLoad: 'preloaded' | 'loaded-on-open';
  /** How seed writes readings in bulk: COPY FROM STDIN, or multi-row INSERT batches (the engine's wire server refuses COPY). */
  readonly bulkLoad: 'copy' | 'insert';
  /**
   * 'alter-extension': the server offers newer TimescaleDB versions and `upgrade` moves each
   * database with ALTER EXTENSION. 'ships-with-program': the one version there is comes with
   * aetherlens-db itself, so upgrading means upgrading aetherlens-db.
   */
  readonly extensionUpgrade: 'alter-extension' | 'ships-with-program';
}

/**
 * Where the database lives. Operations use only this interface and never ask for its kind;
 * the differences (tools on the host, in a container, or in-process) live in targets/<kind>/.
 */
export interface Target extends RestoreSites {
  /** Recorded in manifests (which kind took a backup); never compared outside targets/. */
  readonly kind: TargetKind;
  /** A description safe for logs: never a password. */
  readonly label: string;
  /** The backup lock this target's backups and restores take. */
  readonly backupLockKey: BackupLockKey;
  /** What a backup of this database is named after (the embedded engine's database is PGlite's template1). */
  backupName(database: string): string;
  /** Runs the due (or chosen) policy jobs now, remembering their runs where this kind keeps them. */
  runPolicyJobs(options: PolicyJobOptions): Promise<JobRun[]>;
  /** How `pg` reaches the database. */
  readonly connection: ConnectionInfo;
  /** What operations may rely on here (sessions, how TimescaleDB is loaded, bulk loading, upgrades). */
  readonly capabilities: TargetCapabilities;
  /** The dump tool this target uses and its version; throws OpsError('TOOL') when it is missing. */
  toolVersions(): Promise<ToolVersions>;
  /** Opens a consistent read session for a backup; throws when the target cannot be dumped now. */
  openDumpSession(): Promise<DumpSession>;
  close(): Promise<void>;
}
