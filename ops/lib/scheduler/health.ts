import { lockHolder } from '../fileLock.js';
import { schedulerLockPath } from './scheduler.js';
import { defaultStatusFile } from './settings.js';
import { readStatusFile, type SchedulerStatus, type VerifiedBackup } from './status.js';

/** Default staleness when nothing says otherwise: 1.5 × the default nightly interval. */
export const DEFAULT_MAX_AGE_SECONDS = 36 * 3600;

/** What `aetherlens-db status --backups` reports; `ok` false means exit 1. */
export interface BackupHealth {
  ok: boolean;
  state: 'fresh' | 'stale' | 'none';
  message: string;
  statusFile: string;
  lastVerified: VerifiedBackup | null;
  ageSeconds: number | null;
  maxAgeSeconds: number;
  scheduler: { running: boolean; pid?: number; host?: string; since?: string };
  lastAttempt: SchedulerStatus['lastAttempt'] | null;
  lastSuccess: SchedulerStatus['lastSuccess'] | null;
  lastError: SchedulerStatus['lastError'] | null;
  nextRuns: SchedulerStatus['nextRuns']['backup'];
}

/** 93784 → "1d 2h 3m"; under a minute in seconds. */
export function formatAge(seconds: number): string {
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))}s`;
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return [d ? `${d}d` : '', h ? `${h}h` : '', m && !d ? `${m}m` : ''].filter(Boolean).join(' ') || '0m';
}

/**
 * How fresh the last verified backup is, from the scheduler's status file and (when given) the
 * backup catalog, whichever knows a newer one. Stale means older than `maxAgeSeconds`, else the
 * threshold the scheduler recorded (1.5 × its interval), else 36 h.
 */
export async function backupHealth(options: { backupDir: string; statusFile?: string; maxAgeSeconds?: number; now?: number; catalog?: () => Promise<VerifiedBackup | undefined> }): Promise<BackupHealth> {
  const statusFile = options.statusFile ?? defaultStatusFile(options.backupDir);
  const now = options.now ?? Date.now();
  const status = await readStatusFile(statusFile);
  const fromCatalog = await options.catalog?.().catch(() => undefined);
  let lastVerified = status?.lastVerified;
  if (fromCatalog && (!lastVerified || fromCatalog.createdAt >= lastVerified.createdAt)) lastVerified = fromCatalog;
  const maxAgeSeconds = options.maxAgeSeconds ?? status?.schedule.maxBackupAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS;
  const holder = await lockHolder(schedulerLockPath(options.backupDir));
  const ageSeconds = lastVerified ? Math.max(0, Math.round((now - Date.parse(lastVerified.createdAt)) / 1000)) : null;
  const state = ageSeconds === null ? 'none' : ageSeconds > maxAgeSeconds ? 'stale' : 'fresh';
  const lastError = status?.lastError ? ` (last error, ${status.lastError.step}: ${status.lastError.message})` : '';
  const message =
    state === 'none'
      ? `no verified backup in ${options.backupDir}${status ? '' : ` and no scheduler status at ${statusFile}`}${lastError}: start the scheduler (aetherlens-db schedule) or run aetherlens-db backup and verify`
      : state === 'stale'
        ? `the last verified backup ${lastVerified!.name} is ${formatAge(ageSeconds!)} old, older than the limit of ${formatAge(maxAgeSeconds)}${lastError}: ${holder ? 'the scheduler is running, see its log' : 'the scheduler is not running, start it'}`
        : `the last verified backup ${lastVerified!.name} is ${formatAge(ageSeconds!)} old (limit ${formatAge(maxAgeSeconds)})`;
  return {
    ok: state === 'fresh',
    state,
    message,
    statusFile,
    lastVerified: lastVerified ?? null,
    ageSeconds,
    maxAgeSeconds,
    scheduler: holder ? { running: true, pid: holder.pid, host: holder.host, since: holder.since } : { running: false },
    lastAttempt: status?.lastAttempt ?? null,
    lastSuccess: status?.lastSuccess ?? null,
    lastError: status?.lastError ?? null,
    nextRuns: status?.nextRuns.backup ?? [],
  };
}
