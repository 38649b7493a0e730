import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { redact } from '../connection.js';
import { rememberUrlSecrets } from '../secrets.js';
import { OpsError } from '../errors.js';
import { acquireLock, ownerPath, type HeldLock, type LockOwner } from '../fileLock.js';
import type { Logger } from '../logger.js';
import { logRunEnd, runBackupChain, runJobsOnce } from './chain.js';
import { createNotifier, safeUrl } from './notify.js';
import { intervalSeconds, systemClock, type Clock } from './planner.js';
import { writePrometheusFile } from './prometheus.js';
import type { ScheduleSettings } from './settings.js';
import { applyRun, readStatusFile, writeStatusFile, zeroCounters, type RunRecord, type SchedulerStatus, type Trigger } from './status.js';
import type { Steps } from './steps.js';
import { startTicker, type Ticker } from './ticker.js';

export interface SchedulerOptions {
  settings: ScheduleSettings;
  steps: Steps;
  /** Safe for logs: never a password. */
  targetLabel: string;
  backupDir: string;
  /** Structured JSON lines (jsonLogger). */
  logger: Logger;
  clock?: Clock;
  /** Strings to blank out of every message (passwords). */
  secrets?: string[];
  /** First pause between signal retries (tests shorten it). */
  signalBackoffMs?: number;
  /** After an abort, how long to wait for the step to clean up before giving up on it. */
  abortWaitMs?: number;
}

export interface RunningScheduler {
  /** Settles once the scheduler has stopped and released its lock. */
  readonly stopped: Promise<void>;
  /** Stops taking work, lets a running step finish within the grace period, else aborts it. A second call aborts at once. */
  stop(reason: string): Promise<void>;
  /** Starts the backup chain now; undefined when another run is going (it is skipped, and logged). */
  runBackup(trigger: Trigger): Promise<RunRecord | undefined>;
  status(): SchedulerStatus;
}

/** The lock file that keeps a second scheduler off the same backup directory. */
export function schedulerLockPath(backupDir: string): string {
  return join(backupDir, 'scheduler');
}

const describeHolder = (backupDir: string) => (owner: LockOwner) =>
  `a scheduler is already running for ${backupDir} (pid ${owner.pid} on ${owner.host}, since ${owner.since}${owner.target ? `, target ${String(owner.target)}` : ''}): stop it first, or give this one another backup directory`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Starts the unattended scheduler: takes the per-directory lock, writes the status file, arms
 * node-cron for backups (and policy jobs on the embedded target), and runs a catch-up backup
 * when the last verified one is older than one interval. Runs never overlap.
 */
export async function startScheduler(options: SchedulerOptions): Promise<RunningScheduler> {
  const { settings, steps, logger, backupDir } = options;
  const clock = options.clock ?? systemClock;
  // Ping and webhook URLs carry tokens: redact() blanks them wherever they turn up.
  for (const url of [settings.pingUrl, settings.webhookUrl]) rememberUrlSecrets(url);
  const clean = (text: string) => redact(text, options.secrets ?? []);
  const nowIso = () => new Date(clock.now()).toISOString();
  const schedule = { expression: settings.backupCron, timezone: settings.timezone };
  const interval = intervalSeconds(schedule, new Date(clock.now()));
  const maxAge = settings.maxBackupAgeSeconds ?? Math.round(interval * 1.5);

  await mkdir(backupDir, { recursive: true, mode: 0o700 });
  const lockPath = schedulerLockPath(backupDir);
  const lockOptions = { command: 'schedule', details: { target: options.targetLabel }, describe: describeHolder(backupDir) };
  let lock: HeldLock = await acquireLock(lockPath, lockOptions);

  const previous = await readStatusFile(settings.statusFile).catch((error: Error) => {
    logger.warn(`starting with a fresh status: ${error.message}`, { event: 'status.unreadable' });
    return undefined;
  });
  const startedAt = nowIso();
  let status: SchedulerStatus = {
    ...(previous ?? {}),
    format: 1,
    target: options.targetLabel,
    backupDir,
    scheduler: { pid: process.pid, host: hostname(), startedAt, state: 'running', updatedAt: startedAt },
    schedule: { backupCron: settings.backupCron, timezone: settings.timezone, jobsCron: settings.jobsCron, intervalSeconds: interval, maxBackupAgeSeconds: maxAge },
    nextRuns: { backup: [], jobs: [] },
    counters: previous?.counters ?? zeroCounters(),
  };
  const notifier = createNotifier({
    ...(settings.pingUrl ? { pingUrl: settings.pingUrl } : {}),
    ...(settings.webhookUrl ? { webhookUrl: settings.webhookUrl } : {}),
    timeoutMs: settings.signalTimeoutMs,
    retries: settings.signalRetries,
    ...(options.signalBackoffMs !== undefined ? { backoffMs: options.signalBackoffMs } : {}),
    logger,
  });

  const tickers: { backup?: Ticker; jobs?: Ticker } = {};
  let current: { kind: 'backup' | 'jobs'; trigger: Trigger; startedAt: string; abort: AbortController; done: Promise<RunRecord> } | undefined;
  let stopping = false;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));

  /** The catalog is the truth about verified backups; the status file only remembers it. */
  const refreshVerified = async () => {
    const fromCatalog = await steps.lastVerified().catch(() => undefined);
    if (fromCatalog && (!status.lastVerified || fromCatalog.createdAt >= status.lastVerified.createdAt)) status.lastVerified = fromCatalog;
  };

  const publish = async () => {
    status.scheduler.updatedAt = nowIso();
    if (status.lastVerified) status.lastVerifiedAgeSeconds = Math.max(0, Math.round((clock.now() - Date.parse(status.lastVerified.createdAt)) / 1000));
    status.nextRuns = {
      backup: tickers.backup?.next(3).map((r) => ({ at: r.at.toISOString(), reason: r.reason })) ?? [],
      jobs: tickers.jobs?.next(3).map((r) => r.at.toISOString()) ?? [],
    };
    await writeStatusFile(settings.statusFile, status).catch((error: Error) => logger.error(`cannot write the status file ${settings.statusFile}: ${error.message}`, { event: 'status.write_failed' }));
    if (settings.promFile) await writePrometheusFile(settings.promFile, status).catch((error: Error) => logger.error(`cannot write the Prometheus file ${settings.promFile}: ${error.message}`, { event: 'prom.write_failed' }));
  };

  /** Before each backup: the directory must still be there, and our lock with it. */
  const preflight = async () => {
    const there = await stat(backupDir).then((s) => s.isDirectory()).catch(() => false);
    if (!there) throw new OpsError('BACKUP', `the backup directory ${backupDir} has disappeared (deleted or unmounted?): nothing was written; recreate or remount it (mkdir -m 700 ${backupDir}), the next run retries`);
    if (!existsSync(ownerPath(lockPath))) {
      // The directory came back without our lock (it was recreated): take the lock again.
      await lock.release().catch(() => {});
      lock = await acquireLock(lockPath, lockOptions);
    }
  };

  const begin = (kind: 'backup' | 'jobs', trigger: Trigger): Promise<RunRecord> | undefined => {
    if (stopping) return undefined;
    if (current) {
      logger.warn(`${kind} run skipped: the ${current.kind} run started at ${current.startedAt} is still going`, { event: 'run.skipped', kind, trigger, running: current.kind, since: current.startedAt });
      return undefined;
    }
    const abort = new AbortController();
    const id = randomUUID();
    const chainOptions = { trigger, drill: settings.drill, rotate: settings.rotate, signal: abort.signal, logger, clock, redact: clean, preflight };
    if (kind === 'backup') notifier.ping('start');
    const done = (async () => {
      const record = kind === 'backup' ? await runBackupChain(steps, chainOptions, id) : await runJobsOnce(steps, chainOptions, id);
      status = applyRun(status, record);
      await refreshVerified();
      await publish();
      logRunEnd(logger, record);
      const failed = record.steps.find((s) => s.verdict === 'failed');
      if (kind === 'backup' && record.verdict === 'ok') notifier.ping('success');
      if (failed) {
        if (kind === 'backup') notifier.ping('fail');
        notifier.failure({
          event: kind === 'backup' ? 'aetherlens.backup.failed' : 'aetherlens.jobs.failed',
          text: `aetherlens-db: ${failed.step} failed on ${options.targetLabel}: ${failed.error ?? 'no detail'}`,
          target: options.targetLabel,
          host: hostname(),
          run: id,
          trigger,
          step: failed.step,
          error: failed.error ?? '',
          at: record.finishedAt,
          lastVerified: status.lastVerified ? { name: status.lastVerified.name, createdAt: status.lastVerified.createdAt } : null,
        });
      }
      return record;
    })().finally(() => {
      current = undefined;
    });
    current = { kind, trigger, startedAt: nowIso(), abort, done };
    // A bug in a step adapter must be logged, not crash the process between nightly runs.
    done.catch((error: Error) => logger.error(`${kind} run crashed: ${clean(String(error?.stack ?? error))}`, { event: 'run.crashed', kind }));
    return done;
  };

  /** Catch-up: a backup is due now when the newest verified one is older than one interval. */
  const catchUp = (trigger: Trigger) => {
    const last = status.lastVerified;
    const age = last ? (clock.now() - Date.parse(last.createdAt)) / 1000 : undefined;
    if (age !== undefined && age <= interval) return;
    logger.info(last ? `catching up: the last verified backup is ${Math.round(age!)} s old, more than one interval (${interval} s)` : 'catching up: there is no verified backup yet', { event: 'catch_up', trigger, ageSeconds: age === undefined ? null : Math.round(age), intervalSeconds: interval });
    void begin('backup', trigger);
  };

  await refreshVerified();
  tickers.backup = startTicker({
    name: 'backup',
    schedule,
    clock,
    logger,
    onTick: (reason) => void begin('backup', reason === 'dst-gap' ? 'dst-gap' : 'schedule'),
    onMissed: (slot) => {
      logger.warn(`a backup tick at ${slot.toISOString()} was missed (host suspended or clock jumped)`, { event: 'tick.missed', slot: slot.toISOString() });
      catchUp('missed');
    },
  });
  if (settings.jobsCron && steps.runJobs) {
    tickers.jobs = startTicker({ name: 'jobs', schedule: { expression: settings.jobsCron, timezone: settings.timezone }, clock, logger, onTick: () => void begin('jobs', 'schedule') });
  }
  await publish();
  logger.info('scheduler started', {
    event: 'scheduler.start',
    pid: process.pid,
    target: options.targetLabel,
    backupDir,
    backupCron: settings.backupCron,
    timezone: settings.timezone,
    jobsCron: settings.jobsCron,
    intervalSeconds: interval,
    maxBackupAgeSeconds: maxAge,
    nextRuns: status.nextRuns.backup.map((r) => r.at),
    statusFile: settings.statusFile,
    ...(settings.promFile ? { promFile: settings.promFile } : {}),
    ...(settings.pingUrl ? { ping: safeUrl(settings.pingUrl) } : {}),
    ...(settings.webhookUrl ? { webhook: safeUrl(settings.webhookUrl) } : {}),
  });
  if (settings.catchUp) catchUp('catch-up');

  let stopCalls = 0;
  const stop = async (reason: string): Promise<void> => {
    stopCalls += 1;
    if (stopCalls > 1) {
      // A second signal while waiting: do not wait out the grace period.
      current?.abort.abort(new OpsError('ABORTED', `stopped by a second ${reason}`));
      return stopped;
    }
    stopping = true;
    tickers.backup?.stop();
    tickers.jobs?.stop();
    const running = current;
    logger.info(`stopping on ${reason}`, { event: 'scheduler.stopping', reason, running: running?.kind ?? null, graceSeconds: settings.graceSeconds });
    if (running) {
      const finished = await Promise.race([running.done.then(() => true, () => true), sleep(settings.graceSeconds * 1000).then(() => false)]);
      if (!finished) {
        logger.warn(`aborting the ${running.kind} run: it did not finish within ${settings.graceSeconds} s`, { event: 'run.abort', kind: running.kind });
        running.abort.abort(new OpsError('ABORTED', `stopped by ${reason}`));
        const ended = await Promise.race([running.done.then(() => true, () => true), sleep(options.abortWaitMs ?? 30_000).then(() => false)]);
        if (!ended) logger.error(`the ${running.kind} run did not stop after the abort; exiting anyway`, { event: 'run.abandoned', kind: running.kind });
      }
    }
    status.scheduler.state = 'stopped';
    await publish();
    await notifier.settle(2000);
    await lock.release();
    logger.info('scheduler stopped', { event: 'scheduler.stop', reason });
    resolveStopped();
    return stopped;
  };

  return {
    stopped,
    stop,
    runBackup: (trigger) => begin('backup', trigger) ?? Promise.resolve(undefined),
    status: () => status,
  };
}
