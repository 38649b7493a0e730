import type { JobOutcome } from './jobRunner.js';
import type { RunRecord, StepRecord, Trigger, Verdict } from './status.js';

const VERDICTS: readonly string[] = ['ok', 'failed', 'aborted'];
const round = (n: number) => Math.round(n * 1000) / 1000;

/** The steps a result line reports; anything malformed is dropped rather than trusted. */
function stepsOf(result: Record<string, unknown> | undefined, redact: (text: string) => string): StepRecord[] {
  const steps = result?.steps;
  if (!Array.isArray(steps)) return [];
  return steps
    .filter((s): s is Record<string, unknown> => typeof s === 'object' && s !== null && typeof (s as { step?: unknown }).step === 'string' && VERDICTS.includes(String((s as { verdict?: unknown }).verdict)))
    .map((s) => {
      const record = { ...s, seconds: typeof s.seconds === 'number' ? s.seconds : 0, startedAt: typeof s.startedAt === 'string' ? s.startedAt : '' } as unknown as StepRecord;
      return typeof record.error === 'string' ? { ...record, error: redact(record.error) } : record;
    });
}

/** Why a run that did not succeed failed, in one line an operator can act on. */
function reasonOf(job: string, outcome: JobOutcome, timeoutSeconds: number, killGraceSeconds: number): string | undefined {
  const reported = typeof outcome.result?.error === 'string' ? outcome.result.error : undefined;
  switch (outcome.ended) {
    case 'not-started':
      return `the job ${job} could not be started: ${outcome.lastError ?? 'unknown error'}`;
    case 'timeout':
      return `the job ${job} did not finish within ${timeoutSeconds} s and was stopped (SIGTERM, then SIGKILL after ${killGraceSeconds} s): raise its timeout or find what hangs`;
    case 'stopped':
      return `the job ${job} was stopped because the scheduler stopped${reported ? `: ${reported}` : ''}`;
    case 'exited':
      if (outcome.exitCode === 0 && !outcome.result) return `the job ${job} exited 0 but printed no JSON result line: a job's last line on stdout must be a JSON object such as {"ok":true}`;
      if (outcome.exitCode === 0 && outcome.result?.ok === false) return reported ?? `the job ${job} reported ok: false`;
      if (outcome.exitCode === 0) return undefined;
      return reported ?? outcome.lastError ?? (outcome.signal ? `the job ${job} was killed by ${outcome.signal}` : `the job ${job} exited with code ${String(outcome.exitCode)}`);
  }
}

/**
 * A finished job as the status file records it: its verdict (a stop by the scheduler is
 * `aborted`, never a failure), its reason, and the steps its result line reported.
 */
export function recordRun(options: { id: string; job: string; trigger: Trigger; startedAt: string; finishedAt: string; outcome: JobOutcome; timeoutSeconds: number; killGraceSeconds: number; redact: (text: string) => string }): RunRecord {
  const { outcome } = options;
  const error = reasonOf(options.job, outcome, options.timeoutSeconds, options.killGraceSeconds);
  const verdict: Verdict = outcome.ended === 'stopped' ? 'aborted' : error === undefined ? 'ok' : 'failed';
  let steps = stepsOf(outcome.result, options.redact);
  // A step cut short by a shutdown is not that step's failure.
  if (verdict === 'aborted') steps = steps.map((s) => (s.verdict === 'failed' ? { ...s, verdict: 'aborted' } : s));
  // A job that died before reporting its steps: the failure is counted under its own step.
  if (verdict !== 'ok' && !steps.some((s) => s.verdict !== 'ok')) steps = [...steps, { step: options.job === 'policies' ? 'jobs' : options.job, startedAt: options.startedAt, seconds: round(outcome.seconds), verdict, ...(error ? { error: options.redact(error) } : {}) }];
  return {
    id: options.id,
    job: options.job,
    trigger: options.trigger,
    startedAt: options.startedAt,
    finishedAt: options.finishedAt,
    seconds: round(outcome.seconds),
    verdict,
    exitCode: outcome.exitCode,
    ...(error ? { error: options.redact(error) } : {}),
    ...(outcome.ended === 'timeout' ? { timedOut: true } : {}),
    steps,
  };
}
