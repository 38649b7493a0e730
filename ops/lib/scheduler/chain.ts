import { randomUUID } from 'node:crypto';
import { isOpsError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Clock } from './planner.js';
import type { RunRecord, StepName, StepRecord, Trigger, Verdict } from './status.js';
import type { BackupDone, Steps } from './steps.js';

export interface ChainOptions {
  trigger: Trigger;
  drill: boolean;
  rotate: boolean;
  signal: AbortSignal;
  logger: Logger;
  clock: Clock;
  /** Removes secrets from error messages before they reach logs, files or webhooks. */
  redact: (text: string) => string;
  /** Runs before the backup step; a throw fails the backup (e.g. the directory vanished). */
  preflight?: () => Promise<void>;
}

const iso = (clock: Clock) => new Date(clock.now()).toISOString();
const round = (n: number) => Math.round(n * 1000) / 1000;

/** Runs one step, logging its start and end as JSON lines, and never throws. */
async function step<T>(name: StepName, run: string, options: ChainOptions, fn: () => Promise<T>, describe: (value: T) => Partial<StepRecord> & { failed?: string }): Promise<{ record: StepRecord; value?: T }> {
  const { logger, clock } = options;
  const startedAt = iso(clock);
  const t0 = performance.now();
  logger.info(`${name} started`, { event: 'step.start', run, step: name });
  let record: StepRecord;
  let value: T | undefined;
  try {
    value = await fn();
    const { failed, ...fields } = describe(value);
    record = { step: name, startedAt, seconds: round((performance.now() - t0) / 1000), verdict: failed ? 'failed' : 'ok', ...fields, ...(failed ? { error: options.redact(failed) } : {}) };
  } catch (error) {
    const aborted = options.signal.aborted || (isOpsError(error) && error.code === 'ABORTED');
    const message = options.redact(error instanceof Error ? error.message : String(error));
    record = { step: name, startedAt, seconds: round((performance.now() - t0) / 1000), verdict: aborted ? 'aborted' : 'failed', error: message };
  }
  const line = { event: 'step.end', run, ...record };
  if (record.verdict === 'ok') logger.info(`${name} finished`, line);
  else logger.error(`${name} ${record.verdict}: ${record.error ?? ''}`, line);
  return { record, ...(record.verdict === 'ok' && value !== undefined ? { value } : {}) };
}

function finish(id: string, kind: RunRecord['kind'], options: ChainOptions, startedAt: string, t0: number, steps: StepRecord[]): RunRecord {
  const verdict: Verdict = steps.some((s) => s.verdict === 'aborted') ? 'aborted' : steps.some((s) => s.verdict === 'failed') ? 'failed' : 'ok';
  return { id, kind, trigger: options.trigger, startedAt, finishedAt: iso(options.clock), seconds: round((performance.now() - t0) / 1000), verdict, steps };
}

/** The run's last log line; the scheduler writes it once the status and .prom files are written. */
export function logRunEnd(logger: Logger, record: RunRecord): void {
  const failed = record.steps.find((s) => s.verdict !== 'ok');
  const line = { event: 'run.end', run: record.id, kind: record.kind, trigger: record.trigger, verdict: record.verdict, seconds: record.seconds, ...(failed ? { step: failed.step, error: failed.error } : {}) };
  if (record.verdict === 'ok') logger.info(`${record.kind} run finished`, line);
  else logger.error(`${record.kind} run ${record.verdict}`, line);
}

/**
 * The backup chain: a backup, a restore drill of that backup, then rotation, each only after
 * the previous step succeeded (rotation counts verified backups, so it waits for the drill).
 */
export async function runBackupChain(steps: Steps, options: ChainOptions, id: string = randomUUID()): Promise<RunRecord> {
  const startedAt = iso(options.clock);
  const t0 = performance.now();
  options.logger.info('backup run started', { event: 'run.start', run: id, kind: 'backup', trigger: options.trigger });
  const ctx = { signal: options.signal, logger: options.logger };
  const records: StepRecord[] = [];
  const backup = await step<BackupDone>('backup', id, options, async () => {
    await options.preflight?.();
    return steps.backup(ctx);
  }, (b) => ({ backup: b.name, createdAt: b.createdAt, bytes: b.bytes }));
  records.push(backup.record);
  let rotateAllowed = backup.value !== undefined;
  if (backup.value && options.drill && !options.signal.aborted) {
    const made = backup.value;
    const drill = await step('drill', id, options, () => steps.drill(made, ctx), (d) => ({
      backup: made.name,
      restoreSeconds: d.restoreSeconds,
      mismatches: d.mismatches,
      ...(d.ok ? {} : { failed: `restore drill of ${made.name} failed: ${d.problems.slice(0, 3).join('; ') || 'no detail'}${d.problems.length > 3 ? ` (and ${d.problems.length - 3} more)` : ''}` }),
    }));
    records.push(drill.record);
    rotateAllowed = drill.record.verdict === 'ok';
  }
  if (rotateAllowed && options.rotate && !options.signal.aborted) {
    const rotate = await step('rotate', id, options, () => steps.rotate(ctx), (r) => ({ deleted: r.deleted }));
    records.push(rotate.record);
  }
  return finish(id, 'backup', options, startedAt, t0, records);
}

/** Runs the due TimescaleDB policy jobs once (embedded target). */
export async function runJobsOnce(steps: Steps, options: ChainOptions, id: string = randomUUID()): Promise<RunRecord> {
  const startedAt = iso(options.clock);
  const t0 = performance.now();
  const runJobs = steps.runJobs;
  const jobs = await step('jobs', id, options, () => (runJobs ? runJobs({ signal: options.signal, logger: options.logger }) : Promise.resolve({ ran: 0, failed: 0, errors: [] })), (j) => ({
    jobsRan: j.ran,
    ...(j.failed > 0 ? { failed: `${j.failed} of ${j.ran} policy job(s) failed: ${j.errors.slice(0, 3).join('; ')}` } : {}),
  }));
  return finish(id, 'jobs', options, startedAt, t0, [jobs.record]);
}
