import { execa, type Options, type ResultPromise } from 'execa';
import { OpsError } from './errors.js';

export interface RunOptions {
  /** Milliseconds before the program is killed; undefined means no limit. */
  timeoutMs?: number;
  /** Extra environment (passwords go here, never into argv). */
  env?: Record<string, string | undefined>;
  /** false: `env` is the whole environment (a job's, built from Settings); default: added to ours. */
  inheritEnv?: boolean;
  /** Standard input as text or a file path. */
  input?: string;
  inputFile?: string;
  /** Write standard output into this file instead of buffering it. */
  stdoutFile?: string;
  signal?: AbortSignal;
  cwd?: string;
  /** Own process group, so the caller can signal the program and everything it started. */
  detached?: boolean;
  /** Keep no copy of the output (long-running children whose output is read as it comes). */
  buffer?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/**
 * The one way to run a program (pg_dump, pg_restore, docker exec). Never throws for a non-zero
 * exit: callers decide what the exit code and stderr mean. Throws OpsError('TOOL') when the
 * program cannot be started at all.
 */
export function start(command: string, args: readonly string[], options: RunOptions = {}): ResultPromise {
  const execaOptions: Options = {
    reject: false,
    timeout: options.timeoutMs,
    env: options.env,
    extendEnv: options.inheritEnv ?? true,
    cancelSignal: options.signal,
    forceKillAfterDelay: 2000,
    cwd: options.cwd,
    stripFinalNewline: false,
    ...(options.detached ? { detached: true } : {}),
    ...(options.buffer === false ? { buffer: false } : {}),
    ...(options.input !== undefined ? { input: options.input } : {}),
    ...(options.inputFile !== undefined ? { inputFile: options.inputFile } : {}),
    ...(options.stdoutFile !== undefined ? { stdout: { file: options.stdoutFile } } : {}),
  };
  return execa(command, args, execaOptions) as ResultPromise;
}

export async function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await start(command, args, options);
  if (result.failed && result.exitCode === undefined && !result.isTerminated && !result.timedOut) {
    const code = (result.cause as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT') {
      throw new OpsError('TOOL', `${command} was not found: install it or put it on PATH (PG_BIN_DIR for PostgreSQL tools)`);
    }
    throw new OpsError('TOOL', `${command} could not be started: ${result.shortMessage}`, { cause: result.cause });
  }
  if (result.timedOut) {
    throw new OpsError('TOOL', `${command} did not finish within ${Math.round((options.timeoutMs ?? 0) / 1000)} s and was stopped`);
  }
  if (result.isCanceled) throw new OpsError('ABORTED', `${command} was interrupted`);
  return {
    stdout: typeof result.stdout === 'string' ? result.stdout : '',
    stderr: typeof result.stderr === 'string' ? result.stderr : '',
    exitCode: result.exitCode ?? (result.signal ? 128 : 1),
  };
}

/** The first line of a tool's stderr, trimmed: enough for a one-line operator message. */
export function firstLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? '';
}
