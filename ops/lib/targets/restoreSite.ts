import type { Logger } from '../logger.js';
import type { ExtensionUpdate } from '../extensionUpdate.js';
import type { SqlClient } from './sqlClient.js';
import type { BackupLockKey, DumpFormat } from './types.js';
import type { ScratchPurpose } from './names.js';

/**
 * How a dump is restored with pg_restore: on one job, or in two phases (the schema first, the
 * TimescaleDB catalog's rows on one job, then every other table's rows and the indexes with
 * `jobs` parallel jobs). See test/bench/restore.bench.ts for which one is the default and why.
 */
export type RestoreMode = 'single' | 'two-phase';

/**
 * Whether a failure says something about the backup (a drill records it in the manifest) or only
 * about where it was restored (full disk, server gone, missing role: the backup stays unverified).
 */
export type FailureFault = 'backup' | 'environment';
/** Whether an error from a restore is the backup's fault (see FailureFault). */
export function isBackupFault(error: unknown): boolean {
  return (error as { details?: { fault?: string } } | undefined)?.details?.fault === 'backup';
}

/** One timed pass of a restore (pg_restore's phases, or the embedded engine's load). */
export interface RestorePhase {
  name: string;
  seconds: number;
}

/** A scratch place made ready ahead of its dump (RestoreSite.prepareScratch). */
export interface PreparedScratch {
  readonly scratch: string;
  /** Removes it unless restoreCopy took it over; never throws. */
  discard(): Promise<void>;
}

/** What the place a backup is restored to offers, read before anything is created there. */
export interface SiteFacts {
  /** "15.20" */
  serverVersion: string;
  serverMajor: number;
  /** TimescaleDB versions that CREATE EXTENSION ... VERSION accepts there. */
  timescaleVersions: string[];
  /** "timescale" (community) or "apache"; undefined when it cannot tell. */
  edition?: string;
  /** The dump format this site restores. */
  dumpFormat: DumpFormat;
  /** Where, for messages: 'the server at postgres://…' or 'the embedded engine'. */
  where: string;
  /** Major version of the pg_restore that will read the dump (servers only). */
  restoreMajor?: number;
}

/** A session on a freshly restored copy, with TimescaleDB fully usable in it. */
export interface CopySession {
  client: SqlClient;
  close(): Promise<void>;
}

/** A live session on the database a restore would replace (listed before --force ends it). */
export interface LiveSession {
  pid: number;
  user: string;
  application: string;
  clientAddress: string;
  state: string;
  since: string;
}

/** "pid 123 (app as user from 10.0.0.5, idle)" */
export function describeSession(s: LiveSession): string {
  return `pid ${s.pid} (${s.application} as ${s.user} from ${s.clientAddress}, ${s.state})`;
}

/** What a swap did, and how to undo it. */
export interface SwapResult {
  /** The restored data now answers under this name (database or data directory). */
  live: string;
  /** The replaced data, kept; undefined when nothing was there to replace. */
  previous?: string;
  /** Where to run the steps: "in psql, connected to …" or "in a shell, …". */
  stepsWhere: string;
  /** Steps that put the previous data back, for a person to follow. */
  rollback: string[];
  /** Steps that delete the previous data once the restored one is trusted. */
  drop: string[];
  /** Sessions that were ended with --force. */
  terminated: LiveSession[];
}

/** The little of a backup's manifest a restore site reads. */
export interface RestoredBackup {
  id: string;
  versions: { timescaledb: string | null };
}

/** A backup restored into a scratch copy (database or data directory), not yet in place. */
export interface ScratchCopy {
  /** 'database "aetherlens_drill_…"' or 'data directory /…'. */
  readonly label: string;
  /** Time spent restoring (creating the copy, the dump itself, TimescaleDB's pre/post steps). */
  readonly restoreSeconds: number;
  readonly phases: RestorePhase[];
  /** A session for checks; call finish() only after every session is closed. */
  open(): Promise<CopySession>;
  /** timescaledb_post_restore(): leaves restoring mode and lets background jobs run. */
  finish(): Promise<void>;
  /** Whether timescaledb.restoring is off for new sessions, as the application will see it. */
  restoringOff(): Promise<boolean>;
  /**
   * After finish(): ALTER EXTENSION timescaledb UPDATE in a fresh session, to `to` or the server's
   * default; from === to when there was nothing to do (or the site has one version only).
   * `beforeUpdate` runs only when an update will happen.
   */
  updateExtension(to?: string, beforeUpdate?: () => Promise<void>): Promise<ExtensionUpdate>;
  /** Deletes the copy; never throws (runs in finally blocks and on interrupts). */
  discard(): Promise<void>;
  /** Puts the copy in place of `live`, keeping what was there as `previous`. */
  swapInto(options: { live: string; previous: string; stamp: string; force: boolean; logger: Logger; backupId: string }): Promise<SwapResult>;
}

/**
 * The place a backup is restored to: a PostgreSQL server (on the host or in a container) or the
 * embedded engine's data directory. Drills and restores use only this interface; the differences
 * live in targets/server/restoreSite.ts (also the docker kind's) and targets/embedded/restoreSite.ts.
 */
export interface RestoreSite {
  /** The backup lock of this target: the same key its Target's backups take. */
  readonly backupLockKey: BackupLockKey;
  /** The database (server) or data directory (embedded) a restore replaces by default. */
  readonly defaultLive: string;
  /** What `restore --into NAME` replaces here: a checked database name, or a data directory. */
  liveNamed(into: string): string;
  /** Removes scratch copies that interrupted runs of this host left behind; returns their names. */
  cleanLeftovers(logger: Logger): Promise<string[]>;
  /**
   * Starts making a scratch copy's empty place before its dump is at hand, so that this runs beside
   * whatever the caller does meanwhile (a new embedded cluster takes seconds to start). restoreCopy
   * with the same scratch name takes it over. Left out where there is nothing slow to prepare.
   */
  prepareScratch?(purpose: ScratchPurpose, scratch: string): PreparedScratch;
  /** Restores the dump into a new scratch copy (or a prepared one); on failure nothing is left behind. */
  restoreCopy(options: {
    manifest: RestoredBackup;
    dumpPath: string;
    purpose: ScratchPurpose;
    /** Name of the copy (database) or its directory (embedded). */
    scratch: string;
    mode: RestoreMode;
    /** Refuses (throws) when the site cannot restore this backup; runs before anything is created. */
    check: (facts: SiteFacts) => void;
    /** Called once every refusal is behind, just before the data is loaded. */
    starting?: () => void;
    /** Create the roles the dump needs and the server lacks (NOLOGIN) instead of refusing: a new server of a major upgrade. */
    createRoles?: boolean;
    signal?: AbortSignal;
    logger: Logger;
  }): Promise<ScratchCopy>;
  /** Exact row counts of the live data for the listed tables; undefined when there is none. */
  liveRowCounts(live: string, tables: string[]): Promise<Record<string, number> | undefined>;
  /** Sessions connected to the live database (none on the embedded engine, which we hold). */
  liveSessions(live: string): Promise<LiveSession[]>;
  /** A scratch name for this site: a database name, or a directory beside the live one. */
  scratchName(live: string, purpose: ScratchPurpose, now: Date): { scratch: string; previous: string; stamp: string };
  close(): Promise<void>;
}
