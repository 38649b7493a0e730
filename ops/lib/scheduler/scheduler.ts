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
import type { Environment } from '../settings/variables.js';
import { findJob, type JobScript } from './jobFiles.js';
import { recordRun } from './jobRecord.js';
import { runJob } from './jobRunner.js';
import { createNotifier, safeUrl, type Notifier } from './notify.js';
import { intervalSeconds, systemClock, type Clock } from './planner.js';
import { writePrometheusFile } from './prometheus.js';
import type { JobSchedule, ScheduleSettings } from './settings.js';
import { applyRun, readStatusFile, writeStatusFile, zeroCounters, type JobStatus, type RunRecord, type SchedulerStatus, type Trigger, type VerifiedBackup } from './status.js';
import { startTicker, type Ticker } from './ticker.js';
import { lastVerifiedBackup } from './verified.js';

export interface SchedulerOptions {
  settings: ScheduleSettings;
  /** Safe for logs: never a password. */
  targetLabel: string;
  backupDir: string;
  /** Structured JSON lines (jsonLogger). */
  logger: Logger;
  clock?: Clock;
  /** Strings to blank out of every message and job output line (passwords, tokens). */
  secrets?: string[];
  /** Every job's whole environment, built from Settings (jobEnvironmentFrom). */
  jobEnvironment: Environment;
  /** First pause between signal retries (tests shorten it). */
  signalBackoffMs?: number;
  /** The newest verified backup (default: read from the catalog). */
  lastVerified?: () => Promise<VerifiedBackup | undefined>;
}

export interface RunningScheduler {
  /** Settles once the scheduler has stopped, its jobs have ended and its lock is released. */
  readonly stopped: Promise<void>;
  /** Stops taking work, lets running jobs finish within the grace period, else stops them. A second call stops them at once. */
  stop(reason: string): Promise<void>;
  /** Starts a job now; undefined when it is already running (skipped, logged and counted). */
  runJob(name: string, trigger: Trigger): Promise<RunRecord | undefined>;
  status(): SchedulerStatus;
}

/** The lock file that keeps a second scheduler off the same backup directory. */
export function schedulerLockPath(backupDir: string): string {
  return join(backupDir, 'scheduler');
}

const describeHolder = (backupDir: string) => (owner: LockOwner) =>
  `a scheduler is already running for ${backupDir} (pid ${owner.pid} on ${owner.host}, since ${owner.since}${owner.target ? `, target ${String(owner.target)}` : ''}): stop it first, or give this one another backup directory`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The webhook's event name: the two shipped kinds keep the names monitoring already matches. */
const failureEvent = (job: string) => (job === 'backup' ? 'aetherlens.backup.failed' : job === 'policies' ? 'aetherlens.jobs.failed' : 'aetherlens.job.failed');

/** Log fields a job may not overwrite in the lines it prints. */
const RESERVED = ['time', 'level', 'run', 'job'];

/**
 * Starts the unattended scheduler: takes the per-directory lock, checks every scheduled job
 * script exists, arms node-cron for each, and runs the backup job at once when the last
 * verified backup is older than one interval. Each run is a child process; a job never overlaps
 * itself (a tick that finds it running is skipped and counted).
 */
export async function startScheduler(options: SchedulerOptions): Promise<RunningScheduler> {
  const { settings, logger, backupDir } = options;
  const clock = options.clock ?? systemClock;
  // Ping and webhook URLs carry tokens: redact() blanks them wherever they turn up.
  for (const url of [settings.pingUrl, settings.webhookUrl, ...settings.jobs.map((j) => j.pingUrl)]) rememberUrlSecrets(url);
  const clean = (text: string) => redact(text, options.secrets ?? []);
  const nowIso = () => new Date(clock.now()).toISOString();
  const lastVerified = options.lastVerified ?? (() => lastVerifiedBackup(backupDir));
  const backupJob = settings.jobs.find((j) => j.name === 'backup');
  const backupSchedule = backupJob ? { expression: backupJob.cron, timezone: backupJob.timezone } : undefined;
  const interval = backupSchedule ? intervalSeconds(backupSchedule, new Date(clock.now())) : 86_400;
  const maxAge = settings.maxBackupAgeSeconds ?? Math.round(interval * 1.5);

  // Every scheduled script must be there now, not at its first tick in the night.
  const scripts = new Map<string, JobScript>();
  for (const job of settings.jobs) {
    try {
      scripts.set(job.name, await findJob(job.name, settings.jobsDir));
    } catch (error) {
      throw new OpsError('CONFIG', `the scheduled job ${job.name}: ${(error as Error).message}`);
    }
  }

  await mkdir(backupDir, { recursive: true, mode: 0o700 });
  const lockPath = schedulerLockPath(backupDir);
  const lockOptions = { command: 'schedule', details: { target: options.targetLabel }, describe: describeHolder(backupDir) };
  let lock: HeldLock = await acquireLock(lockPath, lockOptions);

  /**
   * Before the backup job: the directory must still be there (a backup into an unmounted mount
   * point would fill the disk under it), and our lock with it. Returns why not, or undefined.
   */
  const preflight = async (): Promise<string | undefined> => {
    const there = await stat(backupDir).then((s) => s.isDirectory()).catch(() => false);
    if (!there) return `the backup directory ${backupDir} has disappeared (deleted or unmounted?): nothing was written; recreate or remount it (mkdir -m 700 ${backupDir}), the next run retries`;
    if (!existsSync(ownerPath(lockPath))) {
      // The directory came back without our lock (it was recreated): take the lock again.
      await lock.release().catch(() => {});
      lock = await acquireLock(lockPath, lockOptions);
    }
    return undefined;
  };

  const previous = await readStatusFile(settings.statusFile).catch((error: Error) => {
    logger.warn(`starting with a fresh status: ${error.message}`, { event: 'status.unreadable' });
    return undefined;
  });
  const startedAt = nowIso();
  const jobStatus = (job: JobSchedule): JobStatus => {
    const before = previous?.jobs?.[job.name];
    return { runs: 0, failures: 0, skipped: 0, timeouts: 0, ...before, cron: job.cron, timezone: job.timezone, timeoutSeconds: job.timeoutSeconds, script: scripts.get(job.name)!.file, nextRuns: [] };
  };
  let status: SchedulerStatus = {
    ...(previous ?? {}),
    format: 1,
    target: options.targetLabel,
    backupDir,
    scheduler: { pid: process.pid, host: hostname(), startedAt, state: 'running', updatedAt: startedAt },
    schedule: { backupCron: settings.backupCron ?? 'off', timezone: settings.timezone, jobsCron: settings.jobsCron, intervalSeconds: interval, maxBackupAgeSeconds: maxAge },
    nextRuns: { backup: [], jobs: [] },
    counters: previous?.counters ?? zeroCounters(),
    jobs: Object.fromEntries(settings.jobs.map((j) => [j.name, jobStatus(j)])),
  };
  const notifiers = new Map<string, Notifier>();
  for (const job of settings.jobs) {
    const pingUrl = job.pingUrl ?? (job.name === 'backup' ? settings.pingUrl : undefined);
    notifiers.set(job.name, createNotifier({
      ...(pingUrl ? { pingUrl } : {}),
      ...(settings.webhookUrl ? { webhookUrl: settings.webhookUrl } : {}),
      timeoutMs: settings.signalTimeoutMs,
      retries: settings.signalRetries,
      ...(options.signalBackoffMs !== undefined ? { backoffMs: options.signalBackoffMs } : {}),
      logger,
    }));
  }

  const tickers = new Map<string, Ticker>();
  const running = new Map<string, { startedAt: string; stop: AbortController; done: Promise<RunRecord> }>();
  let stopping = false;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));

  /** The catalog is the truth about verified backups; the status file only remembers it. */
  const refreshVerified = async () => {
    const fromCatalog = await lastVerified().catch(() => undefined);
    if (fromCatalog && (!status.lastVerified || fromCatalog.createdAt >= status.lastVerified.createdAt)) status.lastVerified = fromCatalog;
  };

  const publish = async () => {
    status.scheduler.updatedAt = nowIso();
    if (status.lastVerified) status.lastVerifiedAgeSeconds = Math.max(0, Math.round((clock.now() - Date.parse(status.lastVerified.createdAt)) / 1000));
    for (const [name, ticker] of tickers) status.jobs![name]!.nextRuns = ticker.next(3).map((r) => r.at.toISOString());
    status.nextRuns = {
      backup: tickers.get('backup')?.next(3).map((r) => ({ at: r.at.toISOString(), reason: r.reason })) ?? [],
      jobs: tickers.get('policies')?.next(3).map((r) => r.at.toISOString()) ?? [],
    };
    await writeStatusFile(settings.statusFile, status).catch((error: Error) => logger.error(`cannot write the status file ${settings.statusFile}: ${error.message}`, { event: 'status.write_failed' }));
    if (settings.promFile) await writePrometheusFile(settings.promFile, status).catch((error: Error) => logger.error(`cannot write the Prometheus file ${settings.promFile}: ${error.message}`, { event: 'prom.write_failed' }));
  };

  /** A job's output line in the scheduler's log: its own JSON events as they are, anything else as job.output. */
  const relay = (job: string, run: string) => (stream: 'stdout' | 'stderr', line: string) => {
    if (line.trim() === '') return;
    let fields: Record<string, unknown> | undefined;
    if (line.startsWith('{')) {
      try {
        const parsed = JSON.parse(line) as unknown;
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) fields = parsed as Record<string, unknown>;
      } catch {
        fields = undefined;
      }
    }
    if (fields && typeof fields.event === 'string') {
      const own = Object.fromEntries(Object.entries(fields).filter(([k]) => !RESERVED.includes(k) && k !== 'msg'));
      const msg = typeof fields.msg === 'string' ? fields.msg : `${job}: ${fields.event}`;
      const level = fields.level === 'error' ? 'error' : fields.level === 'warn' ? 'warn' : 'info';
      logger[level](msg, { ...own, run, job });
    } else if (fields) logger.info(`${job} result`, { event: 'job.result', run, job, result: fields });
    else logger[stream === 'stderr' ? 'warn' : 'info'](line, { event: 'job.output', run, job, stream });
  };

  const begin = (job: JobSchedule, trigger: Trigger): Promise<RunRecord> | undefined => {
    if (stopping) return undefined;
    const current = running.get(job.name);
    if (current) {
      status.jobs![job.name]!.skipped += 1;
      logger.warn(`${job.name} run skipped: the ${job.name} run started at ${current.startedAt} is still going`, { event: 'run.skipped', job: job.name, trigger, since: current.startedAt, skipped: status.jobs![job.name]!.skipped });
      void publish();
      return undefined;
    }
    const stop = new AbortController();
    const id = randomUUID();
    const startedAt = nowIso();
    const notifier = notifiers.get(job.name)!;
    const script = scripts.get(job.name)!;
    notifier.ping('start');
    logger.info(`${job.name} run started`, { event: 'run.start', run: id, job: job.name, trigger, script: script.file });
    const env = {
      ...options.jobEnvironment,
      AETHERLENS_JOB_RUN: id,
      ...(job.name === 'backup' && !settings.drill ? { AETHERLENS_BACKUP_DRILL: 'off' } : {}),
      ...(job.name === 'backup' && !settings.rotate ? { AETHERLENS_BACKUP_ROTATE: 'off' } : {}),
    };
    const done = (async () => {
      const refused = job.name === 'backup' ? await preflight() : undefined;
      const outcome = refused
        ? { ended: 'exited' as const, exitCode: null, signal: null, seconds: 0, result: { ok: false, error: refused, steps: [{ step: 'backup', verdict: 'failed', error: refused }] } }
        : await runJob({ job: script, timeoutMs: job.timeoutSeconds * 1000, killGraceMs: settings.killGraceSeconds * 1000, stop: stop.signal, environment: env, redact: clean, onLine: relay(job.name, id) });
      const record = recordRun({ id, job: job.name, trigger, startedAt, finishedAt: nowIso(), outcome, timeoutSeconds: job.timeoutSeconds, killGraceSeconds: settings.killGraceSeconds, redact: clean });
      status = applyRun(status, record);
      await refreshVerified();
      await publish();
      const failed = record.steps.find((s) => s.verdict === 'failed');
      const notOk = record.steps.find((s) => s.verdict !== 'ok');
      const line = { event: 'run.end', run: id, job: job.name, trigger, verdict: record.verdict, seconds: record.seconds, exitCode: record.exitCode, ...(outcome.pid ? { pid: outcome.pid } : {}), ...(notOk ? { step: notOk.step } : {}), ...(record.error ? { error: record.error } : {}) };
      if (record.verdict === 'ok') logger.info(`${job.name} run finished`, line);
      else logger.error(`${job.name} run ${record.verdict}${record.error ? `: ${record.error}` : ''}`, line);
      if (record.verdict === 'ok') notifier.ping('success');
      if (record.verdict === 'failed') {
        notifier.ping('fail');
        const step = failed?.step ?? job.name;
        const error = failed?.error ?? record.error ?? 'no detail';
        notifier.failure({
          event: failureEvent(job.name),
          text: `aetherlens-db: ${job.name === step ? step : `${job.name} (${step})`} failed on ${options.targetLabel}: ${error}`,
          target: options.targetLabel,
          host: hostname(),
          job: job.name,
          run: id,
          trigger,
          step,
          error,
          at: record.finishedAt,
          lastVerified: status.lastVerified ? { name: status.lastVerified.name, createdAt: status.lastVerified.createdAt } : null,
        });
      }
      return record;
    })().finally(() => running.delete(job.name));
    running.set(job.name, { startedAt, stop, done });
    // A bug here must be logged, not crash the process between nightly runs.
    done.catch((error: Error) => logger.error(`${job.name} run crashed: ${clean(String(error?.stack ?? error))}`, { event: 'run.crashed', job: job.name }));
    return done;
  };

  /** Catch-up: the backup job is due now when the newest verified backup is older than one interval. */
  const catchUp = (trigger: Trigger) => {
    if (!backupJob) return;
    const last = status.lastVerified;
    const age = last ? (clock.now() - Date.parse(last.createdAt)) / 1000 : undefined;
    if (age !== undefined && age <= interval) return;
    logger.info(last ? `catching up: the last verified backup is ${Math.round(age!)} s old, more than one interval (${interval} s)` : 'catching up: there is no verified backup yet', { event: 'catch_up', trigger, ageSeconds: age === undefined ? null : Math.round(age), intervalSeconds: interval });
    void begin(backupJob, trigger);
  };

  await refreshVerified();
  for (const job of settings.jobs) {
    tickers.set(job.name, startTicker({
      name: job.name,
      schedule: { expression: job.cron, timezone: job.timezone },
      clock,
      logger,
      onTick: (reason) => void begin(job, reason === 'dst-gap' ? 'dst-gap' : 'schedule'),
      onMissed: (slot) => {
        logger.warn(`a ${job.name} tick at ${slot.toISOString()} was missed (host suspended or clock jumped)`, { event: 'tick.missed', job: job.name, slot: slot.toISOString() });
        if (job.name === 'backup') catchUp('missed');
      },
    }));
  }
  await publish();
  for (const warning of settings.warnings) logger.warn(warning, { event: 'settings.warning' });
  logger.info('scheduler started', {
    event: 'scheduler.start',
    pid: process.pid,
    target: options.targetLabel,
    backupDir,
    jobs: settings.jobs.map((j) => ({ name: j.name, cron: j.cron, timezone: j.timezone, timeoutSeconds: j.timeoutSeconds, script: scripts.get(j.name)!.file, next: status.jobs![j.name]!.nextRuns[0] ?? null })),
    backupCron: settings.backupCron,
    timezone: settings.timezone,
    intervalSeconds: interval,
    maxBackupAgeSeconds: maxAge,
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
      for (const run of running.values()) run.stop.abort();
      return stopped;
    }
    stopping = true;
    for (const ticker of tickers.values()) ticker.stop();
    const runs = [...running.entries()];
    logger.info(`stopping on ${reason}`, { event: 'scheduler.stopping', reason, running: runs.map(([name]) => name), graceSeconds: settings.graceSeconds });
    await Promise.all(runs.map(async ([name, run]) => {
      const finished = await Promise.race([run.done.then(() => true, () => true), sleep(settings.graceSeconds * 1000).then(() => false)]);
      if (finished) return;
      logger.warn(`stopping the ${name} run: it did not finish within ${settings.graceSeconds} s`, { event: 'run.abort', job: name });
      run.stop.abort();
      // runJob returns only once the job's whole process group is gone (SIGKILL after the kill grace).
      await run.done.catch(() => undefined);
    }));
    status.scheduler.state = 'stopped';
    await publish();
    await Promise.all([...notifiers.values()].map((n) => n.settle(2000)));
    await lock.release();
    logger.info('scheduler stopped', { event: 'scheduler.stop', reason });
    resolveStopped();
    return stopped;
  };

  return {
    stopped,
    stop,
    runJob: (name, trigger) => {
      const job = settings.jobs.find((j) => j.name === name);
      if (!job) return Promise.reject(new OpsError('USAGE', `the job ${name} is not scheduled: the scheduled jobs are ${settings.jobs.map((j) => j.name).join(', ')}`));
      return begin(job, trigger) ?? Promise.resolve(undefined);
    },
    status: () => status,
  };
}
