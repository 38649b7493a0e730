import type { Logger } from '../logger.js';

/** What every step gets: a signal that fires when the scheduler must stop, and where to log. */
export interface StepContext {
  signal: AbortSignal;
  logger: Logger;
}

/** A backup that was written completely (dump and manifest visible). */
export interface BackupDone {
  /** The catalog name or file of the backup, safe for logs. */
  name: string;
  /** When the backup's snapshot was taken (ISO time): the data age counts from here. */
  createdAt: string;
  bytes: number;
  seconds: number;
}

/** What a restore drill found. A mismatch is a result (ok false), not an exception. */
export interface DrillDone {
  ok: boolean;
  restoreSeconds: number;
  /** Tables (or other objects) whose fingerprint differed from the manifest's. */
  mismatches: number;
  /** One line per problem found, for logs and the webhook. */
  problems: string[];
}

export interface RotateDone {
  deleted: number;
  kept: number;
}

export interface JobsDone {
  ran: number;
  failed: number;
  errors: string[];
}

/** The newest backup that passed a drill, from the backup catalog. */
export interface VerifiedBackup {
  name: string;
  createdAt: string;
  verifiedAt?: string;
  bytes?: number;
  restoreSeconds?: number;
}

/**
 * The scheduler's chain runs through this small interface. The real implementation
 * (realSteps.ts) calls the backup, restore-drill, rotation and policy-job functions of the
 * library; the scheduler core knows nothing else about them.
 */
export interface Steps {
  backup(ctx: StepContext): Promise<BackupDone>;
  drill(backup: BackupDone, ctx: StepContext): Promise<DrillDone>;
  rotate(ctx: StepContext): Promise<RotateDone>;
  /** Present on the embedded target only: run due TimescaleDB policy jobs. */
  runJobs?: (ctx: StepContext) => Promise<JobsDone>;
  /** The newest verified backup in the catalog, for catch-up and for the status file. */
  lastVerified(): Promise<VerifiedBackup | undefined>;
}
