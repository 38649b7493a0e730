import { OpsError } from '../../errors.js';
import type { ConnectionInfo } from '../../connection.js';
import { connect } from '../../pg.js';
import type { Result, ResultPromise } from 'execa';
import { firstLine, start, type RunOptions } from '../../run.js';
import { pgSqlClient } from '../sqlClient.js';
import type { DumpOptions, DumpOutcome, DumpSession } from '../types.js';

/** pg_dump waits at most this long for a table lock someone else holds, then fails (not hangs). */
export const LOCK_WAIT_TIMEOUT_MS = 300_000;

/**
 * pg_dump's arguments for one whole-database backup, shared by the host and the container.
 * Connection details never appear here: they travel in the libpq environment (PGHOST, PGUSER,
 * PGDATABASE, PGPASSWORD), so a database named like a connection string cannot be misread and a
 * password never reaches argv.
 */
export function pgDumpArgs(options: { snapshot: string; compressionLevel: number; file?: string }): string[] {
  return [
    '--format=custom',
    `--compress=${options.compressionLevel}`,
    `--snapshot=${options.snapshot}`,
    `--lock-wait-timeout=${LOCK_WAIT_TIMEOUT_MS}`,
    // We fsync the file ourselves, together with the manifest, before publishing the backup.
    ...(options.file !== undefined ? ['--no-sync', `--file=${options.file}`] : []),
  ];
}

const CONNECTION_LOST = /server closed the connection unexpectedly|terminating connection|could not receive data from server|connection to server .* failed|no connection to the server|SSL SYSCALL error/i;

/** The first line of pg_dump's stderr that states the error, else its first line. */
function errorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim());
  return lines.find((l) => /\berror:/i.test(l)) ?? firstLine(stderr);
}

/**
 * Runs a dump program (pg_dump on the host, or `docker exec … pg_dump`) and turns every way it can
 * fail into one OpsError line: missing program, killed, disk full, server gone, or its own error.
 */
export async function runDumpProgram(
  command: string,
  args: readonly string[],
  options: Pick<RunOptions, 'env' | 'stdoutFile' | 'signal'> & { what: string; onSpawn?: (pid: number) => void },
): Promise<DumpOutcome> {
  const child = start(command, args, { env: options.env, ...(options.stdoutFile ? { stdoutFile: options.stdoutFile } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  if (child.pid !== undefined) options.onSpawn?.(child.pid);
  return dumpOutcome(child, { command, what: options.what });
}

/**
 * Waits for a started dump program and returns its stderr, or throws one OpsError line. `settle`
 * runs first for a failed program and may name a cause outside it (the docker target: what is
 * left in the container is stopped, and docker's own failures are explained).
 */
export async function dumpOutcome(
  child: ResultPromise,
  options: { command: string; what: string; settle?: (result: Result) => Promise<OpsError | undefined> },
): Promise<DumpOutcome> {
  const result = await child;
  const stderr = typeof result.stderr === 'string' ? result.stderr : '';
  if (!result.failed) return { stderr };
  const outside = await options.settle?.(result);
  const cause = result.cause as NodeJS.ErrnoException | undefined;
  if (result.isCanceled) throw new OpsError('ABORTED', `${options.what} was interrupted`);
  if (outside) throw outside;
  if (result.exitCode === undefined && !result.signal && cause?.code === 'ENOENT') {
    throw new OpsError('TOOL', `${options.command} was not found: install it or put it on PATH (PG_BIN_DIR for PostgreSQL tools)`);
  }
  if (cause?.code === 'ENOSPC' || /No space left on device/i.test(stderr)) {
    throw new OpsError('BACKUP', `the disk holding the backup directory is full (${options.what} could not write: No space left on device)`);
  }
  if (result.signal) throw new OpsError('BACKUP', `${options.what} was killed by ${result.signal} before it finished`);
  if (/password authentication failed|no password supplied/i.test(stderr)) {
    throw new OpsError('AUTH', `${options.what} could not log in: ${errorLine(stderr)}: check the password (DATABASE_URL or PGPASSWORD)`);
  }
  if (CONNECTION_LOST.test(stderr)) {
    throw new OpsError('CONNECT', `the server closed the connection during the dump (was it stopped or restarted?): ${errorLine(stderr)}`);
  }
  const detail = errorLine(stderr) || (cause?.message ?? result.shortMessage);
  throw new OpsError('BACKUP', `${options.what} failed (exit ${result.exitCode ?? '?'}): ${detail}`);
}

/**
 * The server and docker targets' consistent read: a REPEATABLE READ, READ ONLY transaction that
 * exports its snapshot. `runDump` gets the snapshot id and runs `pg_dump --snapshot=<id>` while
 * the transaction stays open, so the dump and everything read through `client` see the same data.
 */
export async function openSnapshotSession(
  connection: ConnectionInfo,
  runDump: (snapshot: string, options: DumpOptions) => Promise<DumpOutcome>,
): Promise<DumpSession> {
  const client = await connect(connection);
  let snapshot: string;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    snapshot = (await client.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;
    // This transaction sits idle while pg_dump runs; a server-wide idle timeout must not end it
    // before pg_dump has imported the snapshot.
    await client.query('SET LOCAL idle_in_transaction_session_timeout = 0');
    await client.query('SET LOCAL statement_timeout = 0');
  } catch (error) {
    await client.end().catch(() => {});
    throw new OpsError('BACKUP', `cannot open a consistent snapshot for the dump: ${(error as Error).message}`, { cause: error });
  }
  let closed = false;
  return {
    client: pgSqlClient(client),
    consistency: 'snapshot',
    format: 'custom',
    dump: (options) => runDump(snapshot, options),
    async close() {
      if (closed) return;
      closed = true;
      // A fingerprint query waiting on someone's table lock would hold COMMIT and end() behind it
      // (an aborted backup must not hang): cancel it from a second session after a moment.
      const finished = client.query('COMMIT').then(() => true, () => true);
      const inTime = await Promise.race([finished, new Promise<false>((ok) => setTimeout(() => ok(false), CLOSE_GRACE_MS).unref())]);
      if (!inTime) await cancelBackend(connection, backendPid(client));
      await client.end().catch(() => {});
    },
  };
}

/** How long closing waits for the snapshot session before cancelling what it runs. */
const CLOSE_GRACE_MS = 2_000;

/** node-postgres keeps the server pid from BackendKeyData; its types do not declare it. */
function backendPid(client: object): number | undefined {
  return (client as { processID?: number | null }).processID ?? undefined;
}

async function cancelBackend(connection: ConnectionInfo, pid: number | undefined): Promise<void> {
  if (pid === undefined) return;
  const other = await connect(connection).catch(() => undefined);
  if (!other) return;
  try {
    await other.query('SELECT pg_terminate_backend($1)', [pid]);
  } catch {
    // Best effort: the session may have ended by itself.
  } finally {
    await other.end().catch(() => {});
  }
}
