// What every shipped job script shares: calling the CLI with --json, and reporting its steps as
// JSON lines the scheduler logs, ending with the one result line it records.
import { fileURLToPath } from 'node:url';
import { $, ProcessOutput } from 'zx';

/** The CLI beside these scripts, so a job runs the same version as the scheduler whatever PATH holds. */
const CLI = fileURLToPath(new URL('../../../bin/aetherlens-db.js', import.meta.url));

$.verbose = false;

/** Runs `aetherlens-db ARGS --json` and returns its JSON output; throws the command's one-line error. */
export async function aetherlens<T>(...args: string[]): Promise<T> {
  try {
    // stdout only: zx's .json() would parse stdout and stderr (progress lines) together.
    return JSON.parse((await $`${process.execPath} ${CLI} ${args} --json`).stdout) as T;
  } catch (error) {
    throw commandFailure(args, error);
  }
}

/** A failed command: its own `error: ...` line as the message, its JSON report (if any) kept. */
export class CommandFailed extends Error {
  constructor(message: string, readonly report?: unknown) {
    super(message);
  }
}

function commandFailure(args: string[], error: unknown): Error {
  if (!(error instanceof ProcessOutput)) return error as Error;
  const said = error.stderr.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('error: ')).at(-1)?.slice('error: '.length);
  let report: unknown;
  try {
    report = JSON.parse(error.stdout);
  } catch {
    report = undefined;
  }
  return new CommandFailed(said ?? `aetherlens-db ${args[0] ?? ''} exited with code ${String(error.exitCode)}${error.signal ? ` (${error.signal})` : ''}`, report);
}

export interface StepRecord {
  step: string;
  startedAt: string;
  seconds: number;
  verdict: 'ok' | 'failed';
  error?: string;
  [field: string]: unknown;
}

const steps: StepRecord[] = [];
const line = (fields: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(fields)}\n`);

/**
 * Runs one step: logs its start and end as JSON lines and records it. `describe` turns the
 * command's output (or, when it failed, its JSON report) into the step's fields; a `failed`
 * field fails the step. Returns the output, or undefined when the step failed.
 */
export async function step<T>(name: string, run: () => Promise<T>, describe: (value: T) => Record<string, unknown> & { failed?: string }): Promise<T | undefined> {
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  line({ event: 'step.start', step: name, msg: `${name} started` });
  let record: StepRecord;
  let value: T | undefined;
  try {
    value = await run();
    const { failed, ...fields } = describe(value);
    record = { step: name, startedAt, seconds: elapsed(t0), verdict: failed ? 'failed' : 'ok', ...fields, ...(failed ? { error: failed } : {}) };
  } catch (error) {
    const report = error instanceof CommandFailed && error.report !== undefined ? describe(error.report as T) : {};
    const { failed, ...fields } = report;
    record = { step: name, startedAt, seconds: elapsed(t0), verdict: 'failed', ...fields, error: failed ?? (error as Error).message };
    value = undefined;
  }
  steps.push(record);
  line({ event: 'step.end', ...record, level: record.verdict === 'ok' ? 'info' : 'error', msg: record.verdict === 'ok' ? `${name} finished` : `${name} failed: ${record.error ?? ''}` });
  return record.verdict === 'ok' ? value : undefined;
}

const elapsed = (t0: number) => Math.round(performance.now() - t0) / 1000;

/** Prints the result line (the last line the scheduler reads) and sets the exit code. */
export function finish(extra: Record<string, unknown> = {}): void {
  const failed = steps.find((s) => s.verdict === 'failed');
  line({ ok: !failed, steps, ...(failed ? { error: failed.error } : {}), ...extra });
  process.exitCode = failed ? 1 : 0;
}

// The scheduler stops a job by signalling its whole process group: the aetherlens-db command
// running now gets the same SIGTERM and cleans up; this script waits for it and reports.
process.on('SIGTERM', () => {});
process.on('SIGINT', () => {});
