import { start } from '../run.js';
import type { Environment } from '../settings/variables.js';
import { jobCommand, jobEnvironment, type JobScript } from './jobFiles.js';

export interface JobRunOptions {
  job: JobScript;
  /** The whole run, after which the job's process group gets SIGTERM. */
  timeoutMs: number;
  /** After SIGTERM, how long the group may clean up before SIGKILL. */
  killGraceMs: number;
  /** Fires when the run must end early (the scheduler is stopping). */
  stop?: AbortSignal;
  /** The job's whole environment (jobEnvironmentFrom(settings)): nothing else is inherited. */
  environment: Environment;
  /** Applied to every line before anyone sees it: jobs may print secrets. */
  redact: (text: string) => string;
  /** Each output line as it comes, already redacted. */
  onLine?: (stream: 'stdout' | 'stderr', line: string) => void;
}

export interface JobOutcome {
  /** How it ended: by itself, killed at its timeout, stopped by the caller, or never started. */
  ended: 'exited' | 'timeout' | 'stopped' | 'not-started';
  exitCode: number | null;
  signal: string | null;
  seconds: number;
  /** The last stdout line that is a JSON object without an `event` field: the job's result. */
  result?: Record<string, unknown>;
  /** The last stderr line that says something (no stack frames), for a failure's reason. */
  lastError?: string;
  pid?: number;
}

/** A line longer than this is cut: a runaway job must not grow the scheduler. */
const MAX_LINE = 64 * 1024;

/** Lines of a crash report that say nothing about the cause: frames, carets, braces, node's version. */
export const isNoise = (line: string) => /^\s+at\s/.test(line) || /^Node\.js v\d/.test(line) || /^\s*[\^{}]*\s*$/.test(line) || /^\s+\w+: .*[,']$/.test(line);
/** Keeps the last stderr lines, to name why a job failed. */
const STDERR_KEPT = 50;

/**
 * Why a job failed, from its stderr: node's uncaught "SomethingError: ..." line (with the line
 * after it when it ends in ":", as esbuild's parse errors do), else the last line that is not noise.
 */
export function failureLine(lines: string[]): string | undefined {
  const i = lines.findIndex((l) => /^\w*(Error|Exception)\b.*:/.test(l));
  if (i >= 0) {
    const head = lines[i]!.trim();
    const next = lines[i + 1]?.trim();
    return head.endsWith(':') && next && !isNoise(lines[i + 1]!) ? `${head} ${next}` : head;
  }
  // "error: ..." is how aetherlens-db and well-behaved scripts say it; the prefix is added again by whoever prints it.
  return lines.filter((l) => !isNoise(l)).at(-1)?.trim().replace(/^error:\s*/i, '');
}

function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // ESRCH: the whole group is gone
  }
}

/** Resolves once no process of the group is left, or after `ms` (false). */
async function groupGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (signalGroup(pid, 0)) {
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

function parseResult(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) && !('event' in value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs one job script in its own process group (a child, so its memory and a wedge stay out of
 * the scheduler). At the timeout or on `stop`, the whole group gets SIGTERM, then SIGKILL after
 * the grace period; the call returns only once the group is gone.
 */
export async function runJob(options: JobRunOptions): Promise<JobOutcome> {
  const t0 = performance.now();
  const { command, args } = jobCommand(options.job);
  const child = start(command, args, { env: jobEnvironment(options.environment), inheritEnv: false, detached: true, buffer: false, input: '' });
  let result: Record<string, unknown> | undefined;
  const stderrTail: string[] = [];
  const split = (stream: 'stdout' | 'stderr') => {
    let pending = '';
    return {
      push(chunk: Buffer | string) {
        pending += chunk.toString();
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          this.line(pending.slice(0, nl));
          pending = pending.slice(nl + 1);
        }
        if (pending.length > MAX_LINE) {
          this.line(pending.slice(0, MAX_LINE));
          pending = '';
        }
      },
      line(raw: string) {
        const text = options.redact(raw.slice(0, MAX_LINE).replace(/\r$/, ''));
        if (stream === 'stdout') result = parseResult(text) ?? result;
        else if (stderrTail.push(text) > STDERR_KEPT) stderrTail.shift();
        options.onLine?.(stream, text);
      },
      flush() {
        if (pending) this.line(pending);
        pending = '';
      },
    };
  };
  const out = split('stdout');
  const err = split('stderr');
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => err.push(c));

  let ended: JobOutcome['ended'] = 'exited';
  const pid = child.pid;
  let ending: Promise<void> | undefined;
  const end = (why: 'timeout' | 'stopped') => {
    if (ending || pid === undefined) return;
    ended = why;
    ending = (async () => {
      signalGroup(pid, 'SIGTERM');
      if (!(await groupGone(pid, options.killGraceMs))) signalGroup(pid, 'SIGKILL');
    })();
  };
  const timer = setTimeout(() => end('timeout'), options.timeoutMs);
  const onStop = () => end('stopped');
  if (options.stop?.aborted) onStop();
  options.stop?.addEventListener('abort', onStop, { once: true });
  try {
    const finished = await child;
    out.flush();
    err.flush();
    if (pid === undefined || (finished.failed && finished.exitCode === undefined && !finished.signal)) {
      return { ended: 'not-started', exitCode: null, signal: null, seconds: 0, lastError: options.redact(finished.shortMessage ?? 'unknown error') };
    }
    const lastError = failureLine(stderrTail);
    // What the job started may still be cleaning up: an ended run waits for the whole group.
    if (ending) await ending;
    if (ended !== 'exited' && !(await groupGone(pid, options.killGraceMs))) signalGroup(pid, 'SIGKILL');
    return {
      ended,
      exitCode: finished.exitCode ?? null,
      signal: finished.signal ?? null,
      seconds: Math.round((performance.now() - t0)) / 1000,
      ...(result ? { result } : {}),
      ...(lastError ? { lastError } : {}),
      pid,
    };
  } finally {
    clearTimeout(timer);
    options.stop?.removeEventListener('abort', onStop);
  }
}
