/**
 * Every program the docker target runs inside its container (pg_dump, pg_restore, their version
 * probes) goes through here, because `docker exec` differs from running a program in three ways:
 *   - it forwards no signal: stopping the docker CLI leaves the program running in the container
 *     (seen: a pg_dump waiting on a lock, and one blocked writing into a pipe nobody read any more);
 *   - its exit code mixes the program's with docker's own (1 for a daemon error, 125, 126, 127, 137);
 *   - the container can stop under it.
 * So each run carries a marker variable, and when it fails or is aborted the processes carrying
 * that marker are stopped inside the container; and docker's own failures become one line each.
 */
import { randomUUID } from 'node:crypto';
import { OpsError } from '../../errors.js';
import { firstLine, run, start, type RunOptions, type RunResult } from '../../run.js';

/** The docker CLI, found on PATH. */
export const DOCKER = 'docker';

/** The variable that marks a program we started in the container (value: a fresh UUID per run). */
export const EXEC_MARK_VAR = 'AETHERLENS_DB_EXEC_ID';

/**
 * `docker exec` arguments. Variables are named without a value (`-e PGPASSWORD`): the docker CLI
 * then copies the value from its own environment into the API request, so secrets never appear in
 * any process's argv. No `-t`: a TTY would mangle a binary dump. `-i` keeps stdin open (pg_restore
 * reads the dump from it).
 */
export function dockerExecArgs(container: string, command: readonly string[], envNames: readonly string[] = [], options: { interactive?: boolean } = {}): string[] {
  return ['exec', ...(options.interactive ? ['-i'] : []), ...envNames.flatMap((name) => ['-e', name]), container, ...command];
}

/**
 * Stops every process in the container whose environment holds `$0` (NAME=VALUE): TERM, then KILL
 * after 5 s. POSIX sh with grep and kill, so it runs on the Alpine image as on the Debian one.
 * pg_dump and pg_restore answer TERM by cancelling their query, so their server session ends too.
 */
export const STOP_MARKED_SCRIPT = [
  // One grep over every environment (NUL-separated; the marker's UUID makes a substring exact).
  `p=; for f in $(grep -lF "$0" /proc/[0-9]*/environ 2>/dev/null); do x=\${f#/proc/}; p="$p \${x%/environ}"; done`,
  '[ -z "$p" ] && exit 0',
  'kill -TERM $p 2>/dev/null',
  // Only the pids found above are watched: a zombie or a reused pid no longer carries the marker.
  'i=0; while [ $i -lt 50 ]; do sleep 0.1 2>/dev/null || sleep 1; q=; for x in $p; do grep -qF "$0" "/proc/$x/environ" 2>/dev/null && q="$q $x"; done; [ -z "$q" ] && exit 0; p=$q; i=$((i+1)); done',
  'kill -KILL $p 2>/dev/null; exit 0',
].join('\n');

/** The `docker exec` that stops what a run marked `mark` left in the container. */
export function stopMarkedArgs(container: string, mark: string): string[] {
  return dockerExecArgs(container, ['sh', '-c', STOP_MARKED_SCRIPT, `${EXEC_MARK_VAR}=${mark}`]);
}

/** Best effort: the container may be stopped or gone, and then nothing of ours runs in it anyway. */
export async function stopMarked(container: string, mark: string): Promise<void> {
  await run(DOCKER, stopMarkedArgs(container, mark), { timeoutMs: 30_000 }).catch(() => {});
}

/** The container's state now, as far as a failure message needs it. */
export interface ContainerNow {
  state: 'running' | 'stopped' | 'gone' | 'paused' | 'restarting' | 'unknown';
  /** State.StartedAt, to tell a restart from a container that kept running. */
  startedAt?: string;
}

export async function containerNow(container: string): Promise<ContainerNow> {
  const result = await run(DOCKER, ['container', 'inspect', '--format', '{{.State.Status}} {{.State.StartedAt}}', container], { timeoutMs: 30_000 }).catch(() => undefined);
  if (!result) return { state: 'unknown' };
  if (result.exitCode !== 0) return { state: /no such (container|object)/i.test(result.stderr) ? 'gone' : 'unknown' };
  const [status = '', startedAt] = result.stdout.trim().split(/\s+/);
  const state = status === 'running' || status === 'paused' || status === 'restarting' ? status : status ? 'stopped' : 'unknown';
  return { state, ...(startedAt ? { startedAt } : {}) };
}

/** What the program said when its server went away under it. */
const SERVER_GONE = /server closed the connection|terminating connection|could not receive data from server|no connection to the server|the database system is shutting down|connection to server .* failed/i;

/** What failed, where, and what the container did meanwhile. */
export interface ExecFailure {
  container: string;
  /** For messages: "pg_dump", "pg_restore --list". */
  what: string;
  exitCode: number | undefined;
  /**
   * What the docker CLI printed: stderr, and stdout when it was not redirected, because the engine
   * writes the runtime's own errors ("OCI runtime exec failed: …") into the program's stdout.
   */
  output: string;
  now: ContainerNow;
  /** True when the container was (re)started after the program began. */
  restarted?: boolean;
}

/** The line in which docker (not the program) says what went wrong, if there is one. */
function dockerSays(output: string): string | undefined {
  return output.split('\n').map((l) => l.trim()).find((l) => /^(Error response from daemon:|OCI runtime |Cannot connect to the Docker daemon|error during connect|unable to find user|unknown flag)/i.test(l))
    ?.replace(/^Error response from daemon:\s*/i, '');
}

/**
 * The one-line error for a `docker exec` that failed for docker's reasons, not the program's:
 * daemon unreachable, container gone / not running / stopped under it / restarted / paused, and
 * exit codes 125 (docker refused the command), 126 (cannot execute; on this engine also "not
 * found"), 127 (not found by a shell) and 137 (SIGKILL). Undefined when the program itself failed:
 * its caller reads its stderr.
 */
export function dockerExecFailure(f: ExecFailure): OpsError | undefined {
  const { container: c, what } = f;
  const program = what.split(' ')[0]!;
  const said = dockerSays(f.output);
  const again = 'then run the command again';
  if (said && /cannot connect to the docker daemon|error during connect/i.test(said)) {
    return new OpsError('TOOL', `cannot reach the Docker engine to run ${what} in container "${c}" (${said}): start Docker or fix DOCKER_HOST, ${again}`);
  }
  if (f.now.state === 'gone' || (said && /no such container/i.test(said))) {
    return new OpsError('CONNECT', `container "${c}" no longer exists, so ${what} could not run in it: create it again (pulumi up), ${again}`);
  }
  if (f.now.state === 'paused' || (said && /is paused/i.test(said))) {
    return new OpsError('CONNECT', `container "${c}" is paused, so ${what} could not run in it: docker unpause ${c}, ${again}`);
  }
  if (said && /is not running/i.test(said)) {
    return new OpsError('CONNECT', `container "${c}" is not running, so ${what} could not start in it: start it (docker start ${c}), ${again}`);
  }
  if (f.now.state === 'restarting' || (said && /is restarting/i.test(said))) {
    return new OpsError('CONNECT', `container "${c}" is restarting (see docker logs ${c}), so ${what} could not finish: wait until it is healthy, ${again}`);
  }
  if (f.now.state === 'stopped') {
    return new OpsError('CONNECT', `container "${c}" stopped while ${what} ran: start it (docker start ${c}), ${again}`);
  }
  if (f.restarted) {
    return new OpsError('CONNECT', `container "${c}" restarted while ${what} ran (see docker logs ${c}): once it is healthy, ${again}`);
  }
  switch (f.exitCode) {
    case 125:
      return new OpsError('TOOL', `docker exec refused to run ${what} in container "${c}" (exit 125${said ? `: ${said}` : ''}): check the docker CLI and its version`);
    case 126:
      if (said && /executable file not found|no such file or directory/i.test(said)) {
        return new OpsError('TOOL', `${program} was not found in container "${c}" (exit 126: ${said}): the container must run the PostgreSQL image the stack declares (its client tools on PATH)`);
      }
      return new OpsError('TOOL', `${program} in container "${c}" could not be started (exit 126: ${said ?? 'it is missing or not executable there'}): the container must run the PostgreSQL image the stack declares`);
    case 127: {
      // A shell's answer: the program it was to run is missing (this engine itself says 126).
      const shell = firstLine(f.output);
      return new OpsError('TOOL', `${what} in container "${c}" could not run a program it needs (exit 127${shell ? `: ${shell}` : ''}): the container must run the PostgreSQL image the stack declares (its client tools on PATH)`);
    }
    case 137:
      return new OpsError('TOOL', `${what} in container "${c}" was killed (SIGKILL, exit 137) while the container kept running: most likely the out-of-memory killer (raise the stack's memoryMb), or someone ran kill -9; ${again}`);
    default:
      return undefined;
  }
}

/**
 * Finds out what the container did while a program that failed was running, then maps the
 * failure (dockerExecFailure). When the program lost its server while the container still runs,
 * waits up to `settleMs` for it to stop or restart: a stopping PostgreSQL ends its sessions first.
 */
export async function explainExecFailure(
  container: string,
  what: string,
  exit: { exitCode: number | undefined; output: string },
  options: { startedAt: number; settleMs?: number } = { startedAt: Date.now() },
): Promise<OpsError | undefined> {
  // A stopping container ends PostgreSQL's sessions first and kills what still runs (137) last.
  const settleMs = options.settleMs ?? (SERVER_GONE.test(exit.output) ? 10_000 : exit.exitCode === 137 ? 2_000 : 0);
  const deadline = Date.now() + settleMs;
  for (;;) {
    const now = await containerNow(container);
    // StartedAt later than our program (a second of slack for clock rounding): it restarted.
    const restarted = now.state === 'running' && now.startedAt !== undefined && Date.parse(now.startedAt) > options.startedAt + 1000;
    if (now.state !== 'running' || restarted || Date.now() >= deadline) {
      return dockerExecFailure({ container, what, exitCode: exit.exitCode, output: exit.output, now, restarted });
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export interface ContainerExecOptions extends Pick<RunOptions, 'inputFile' | 'stdoutFile' | 'signal' | 'timeoutMs'> {
  /** For messages: "pg_dump", "pg_restore --list". */
  what: string;
  /** Variables for the program; their names go into argv, their values only into the docker CLI's env. */
  env?: Record<string, string>;
  /** Called with the docker CLI's pid once it runs. */
  onSpawn?: (pid: number) => void;
}

/** The `docker exec` command line a marked run uses, and the environment the docker CLI gets. */
export function containerCommand(container: string, command: readonly string[], options: { env?: Record<string, string>; interactive?: boolean; mark: string }): { command: string; args: string[]; env: Record<string, string> } {
  const env = { ...options.env, [EXEC_MARK_VAR]: options.mark };
  return { command: DOCKER, args: dockerExecArgs(container, command, Object.keys(env), { interactive: options.interactive === true }), env };
}

/**
 * Starts `command` in the container. The returned promise settles only once nothing of this run
 * is left in the container: on abort or failure the marked processes are stopped there (see the
 * file comment). `settle` then says what docker's part in a failure was.
 */
export function startInContainer(container: string, command: readonly string[], options: ContainerExecOptions) {
  const mark = randomUUID();
  const c = containerCommand(container, command, { ...(options.env ? { env: options.env } : {}), interactive: options.inputFile !== undefined, mark });
  const startedAt = Date.now();
  const child = start(c.command, c.args, {
    env: c.env,
    ...(options.inputFile !== undefined ? { inputFile: options.inputFile } : {}),
    ...(options.stdoutFile !== undefined ? { stdoutFile: options.stdoutFile } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
  if (child.pid !== undefined) options.onSpawn?.(child.pid);
  return {
    child,
    /**
     * After the docker CLI exited: for a failed or aborted run, stops what is left of it in the
     * container, then returns docker's failure as an OpsError (undefined: the program's own).
     */
    async settle(result: { failed: boolean; exitCode?: number; stdout: unknown; stderr: unknown; isCanceled?: boolean; timedOut?: boolean }): Promise<OpsError | undefined> {
      if (!result.failed) return undefined;
      // The docker CLI is gone, so no further exec of this run can start: stop what is left.
      await stopMarked(container, mark);
      if (result.isCanceled || result.timedOut) return undefined;
      const output = [result.stderr, result.stdout].filter((t): t is string => typeof t === 'string').join('\n');
      return explainExecFailure(container, options.what, { exitCode: result.exitCode, output }, { startedAt });
    },
  };
}

/**
 * Runs `command` in the container and returns its exit and output, like run(). Throws
 * OpsError('ABORTED') when aborted (after stopping it in the container), and an OpsError for every
 * failure that is docker's rather than the program's; the program's own failures are returned.
 */
export async function execInContainer(container: string, command: readonly string[], options: ContainerExecOptions): Promise<RunResult> {
  const { child, settle } = startInContainer(container, command, options);
  const result = await child;
  const failure = await settle(result);
  if (result.isCanceled) throw new OpsError('ABORTED', `${options.what} in container ${container} was interrupted`);
  if (result.timedOut) throw new OpsError('TOOL', `${options.what} in container ${container} did not finish within ${Math.round((options.timeoutMs ?? 0) / 1000)} s and was stopped`);
  if (failure) throw failure;
  if (result.failed && result.exitCode === undefined && !result.signal) {
    const code = (result.cause as NodeJS.ErrnoException | undefined)?.code;
    throw new OpsError('TOOL', code === 'ENOENT' ? `${DOCKER} was not found: install the Docker CLI or put it on PATH` : `${DOCKER} could not be started: ${result.shortMessage}`, { cause: result.cause });
  }
  return {
    stdout: typeof result.stdout === 'string' ? result.stdout : '',
    stderr: typeof result.stderr === 'string' ? result.stderr : '',
    exitCode: result.exitCode ?? (result.signal ? 128 : 1),
  };
}
