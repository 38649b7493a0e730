import { readFile } from 'node:fs/promises';
import { OpsError } from '../errors.js';
import { writeFileAtomic } from '../atomicFile.js';
import { redactStrings } from '../secrets.js';
/** The newest backup that passed a drill, from the backup catalog. */
export interface VerifiedBackup {
  name: string;
  createdAt: string;
  verifiedAt?: string;
  bytes?: number;
  restoreSeconds?: number;
}

/** Steps the shipped jobs report, counted in the status file and the .prom file. */
export type StepName = 'backup' | 'drill' | 'rotate' | 'jobs';
export const STEP_NAMES: readonly StepName[] = ['backup', 'drill', 'rotate', 'jobs'];
export type Verdict = 'ok' | 'failed' | 'aborted';
/** Why a run started: its cron tick, start-up catch-up, a slot DST skipped, or ticks missed while suspended. */
export type Trigger = 'schedule' | 'catch-up' | 'dst-gap' | 'missed';

/** One step a job reported in its result line (operators' jobs may name their own). */
export interface StepRecord {
  step: string;
  startedAt: string;
  seconds: number;
  verdict: Verdict;
  error?: string;
  backup?: string;
  /** Backup step: when the backup's snapshot was taken. */
  createdAt?: string;
  bytes?: number;
  restoreSeconds?: number;
  mismatches?: number;
  deleted?: number;
  jobsRan?: number;
}

/** One run of a job script: how it ended and the steps its result line reported. */
export interface RunRecord {
  id: string;
  job: string;
  trigger: Trigger;
  startedAt: string;
  finishedAt: string;
  seconds: number;
  verdict: Verdict;
  exitCode: number | null;
  /** Why it failed or was aborted, one line. */
  error?: string;
  /** Killed at its timeout. */
  timedOut?: boolean;
  steps: StepRecord[];
}

/** Per job: its schedule, counters and last run. */
export interface JobStatus {
  cron: string;
  timezone: string;
  timeoutSeconds: number;
  script?: string;
  runs: number;
  failures: number;
  /** Ticks that came while the job was still running. */
  skipped: number;
  timeouts: number;
  lastRun?: { id: string; at: string; verdict: Verdict; seconds: number; exitCode: number | null; error?: string };
  lastSuccessAt?: string;
  nextRuns: string[];
}

/** The status file: what `status --backups`, monitoring and the .prom file read. */
export interface SchedulerStatus {
  format: 1;
  target: string;
  backupDir: string;
  scheduler: { pid: number; host: string; startedAt: string; state: 'running' | 'stopped'; updatedAt: string };
  schedule: { backupCron: string; timezone: string; jobsCron: string | null; intervalSeconds: number; maxBackupAgeSeconds: number };
  /** The last run of the backup job, whatever its verdict. */
  lastAttempt?: RunRecord;
  /** The last backup job that went through completely. */
  lastSuccess?: { at: string; backup: string; bytes: number; seconds: number };
  /** The last backup written (its drill may still have failed): time, size, duration. */
  lastBackup?: { at: string; backup: string; createdAt: string; bytes: number; seconds: number };
  /** The newest backup that passed a drill: the one you could restore. */
  lastVerified?: VerifiedBackup;
  /** Its age when this file was written (`status --backups` recomputes it when read). */
  lastVerifiedAgeSeconds?: number;
  lastDrill?: { at: string; backup: string; ok: boolean; restoreSeconds: number; mismatches: number };
  /** The last run of the policies job. */
  lastJobs?: RunRecord;
  /** `step` is the failed step, or the job's name when it reported none. */
  lastError?: { at: string; step: string; job?: string; message: string };
  nextRuns: { backup: Array<{ at: string; reason: string }>; jobs: string[] };
  counters: { runs: number; failures: Record<StepName, number>; fingerprintMismatches: number };
  jobs?: Record<string, JobStatus>;
}

export function zeroCounters(): SchedulerStatus['counters'] {
  return { runs: 0, failures: { backup: 0, drill: 0, rotate: 0, jobs: 0 }, fingerprintMismatches: 0 };
}

/**
 * Folds a finished run into the status: last attempt, success, backup, drill, error and the
 * counters (which survive restarts, so the .prom counters never go backwards).
 */
export function applyRun(status: SchedulerStatus, run: RunRecord): SchedulerStatus {
  const next: SchedulerStatus = { ...status, counters: { ...status.counters, failures: { ...status.counters.failures } } };
  if (run.job === 'policies') next.lastJobs = run;
  else if (run.job === 'backup') {
    next.lastAttempt = run;
    next.counters.runs += 1;
  }
  const job = next.jobs?.[run.job];
  if (job) {
    next.jobs = { ...next.jobs, [run.job]: applyToJob(job, run) };
  }
  for (const step of run.steps) {
    if (step.verdict === 'failed') {
      if ((STEP_NAMES as readonly string[]).includes(step.step)) next.counters.failures[step.step as StepName] += 1;
      next.lastError = { at: run.finishedAt, step: step.step, job: run.job, message: step.error ?? run.error ?? 'failed' };
    }
    if (step.step === 'backup' && step.verdict === 'ok' && step.backup) {
      next.lastBackup = { at: run.startedAt, backup: step.backup, createdAt: step.createdAt ?? run.startedAt, bytes: step.bytes ?? 0, seconds: step.seconds };
    }
    if (step.step === 'drill' && step.verdict !== 'aborted' && step.backup) {
      const mismatches = step.mismatches ?? 0;
      next.lastDrill = { at: step.startedAt, backup: step.backup, ok: step.verdict === 'ok', restoreSeconds: step.restoreSeconds ?? 0, mismatches };
      if (mismatches > 0) next.counters.fingerprintMismatches += 1;
      const made = run.steps.find((s) => s.step === 'backup' && s.backup === step.backup);
      if (step.verdict === 'ok' && made) {
        const verifiedAt = new Date(Date.parse(step.startedAt) + step.seconds * 1000).toISOString();
        next.lastVerified = { name: step.backup, createdAt: made.createdAt ?? made.startedAt, verifiedAt, ...(made.bytes !== undefined ? { bytes: made.bytes } : {}), restoreSeconds: step.restoreSeconds ?? 0 };
      }
    }
  }
  if (run.verdict === 'failed' && !run.steps.some((s) => s.verdict === 'failed')) {
    next.lastError = { at: run.finishedAt, step: run.job, job: run.job, message: run.error ?? 'failed' };
  }
  if (run.job === 'backup' && run.verdict === 'ok' && next.lastBackup) {
    next.lastSuccess = { at: run.finishedAt, backup: next.lastBackup.backup, bytes: next.lastBackup.bytes, seconds: next.lastBackup.seconds };
  }
  return next;
}

/** A job's counters and last run after `run`; a shutdown's abort counts as neither success nor failure. */
function applyToJob(job: JobStatus, run: RunRecord): JobStatus {
  return {
    ...job,
    runs: job.runs + 1,
    failures: job.failures + (run.verdict === 'failed' ? 1 : 0),
    timeouts: job.timeouts + (run.timedOut ? 1 : 0),
    lastRun: { id: run.id, at: run.startedAt, verdict: run.verdict, seconds: run.seconds, exitCode: run.exitCode, ...(run.error ? { error: run.error } : {}) },
    ...(run.verdict === 'ok' ? { lastSuccessAt: run.finishedAt } : {}),
  };
}

/** Reads a status file; undefined when there is none, an error naming the file when it is unreadable. */
export async function readStatusFile(path: string): Promise<SchedulerStatus | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OpsError('NOT_FOUND', `cannot read the scheduler status ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    const data = JSON.parse(text) as SchedulerStatus;
    if (data.format !== 1) throw new Error(`format ${String(data.format)}`);
    return data;
  } catch (error) {
    throw new OpsError('NOT_FOUND', `the scheduler status ${path} is not a status file this version reads (${(error as Error).message}): delete it, the scheduler writes a new one after its next run`);
  }
}

/** Writes the status file atomically (readers never see half of it); 0644: it holds no secret. */
export async function writeStatusFile(path: string, status: SchedulerStatus): Promise<void> {
  // Readable by monitoring (0644): no secret the process knows may be in it, wherever it came from.
  await writeFileAtomic(path, `${JSON.stringify(status, redactStrings, 2)}\n`, 0o644);
}
