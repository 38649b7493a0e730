import { writeFile, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpsError } from '../../errors.js';
import { firstLine, type RunResult } from '../../run.js';
import { libpqDbname } from '../names.js';
import type { FailureFault, RestoreMode, RestorePhase } from '../restoreSite.js';

/** pg_restore where the target runs it: on the host, or inside the container. */
export interface RestoreProgram {
  /** For messages: "pg_restore" or "pg_restore in container db". */
  readonly what: string;
  /** `pg_restore -l` of the dump: its table of contents. */
  list(signal?: AbortSignal): Promise<string>;
  /** `pg_restore --schema-only -f -`: the dump's schema as SQL (to find the roles it needs). */
  schema(signal?: AbortSignal): Promise<string>;
  /** Runs pg_restore on the dump into `database`; `listFile` is a local file for -L. */
  restore(options: { database: string; args: readonly string[]; listFile?: string; signal?: AbortSignal }): Promise<RunResult>;
  close(): Promise<void>;
}

/** Arguments every pass shares: stop at the first error, restore into `database`. */
export function baseRestoreArgs(database: string): string[] {
  // --exit-on-error: the scratch database is thrown away on failure anyway, so the first error
  // is the one worth reporting (pg_restore's default goes on and piles up consequential ones).
  return ['--exit-on-error', '--no-password', `--dbname=${libpqDbname(database)}`];
}

/** The TimescaleDB catalog and configuration: its rows must be restored in order, by one job. */
const CATALOG_DATA = /^\d+; \d+ \d+ TABLE DATA (_timescaledb_catalog|_timescaledb_config) /;

/** Splits `pg_restore -l` into the catalog's data entries and every other data entry. */
export function splitDataEntries(toc: string): { catalog: string[]; other: string[] } {
  const catalog: string[] = [];
  const other: string[] = [];
  for (const line of toc.split('\n')) {
    if (!/^\d+; /.test(line)) continue;
    if (CATALOG_DATA.test(line)) catalog.push(line);
    else other.push(line);
  }
  return { catalog, other };
}

const CONNECTION_LOST = /server closed the connection unexpectedly|terminating connection|could not receive data from server|connection to server .* failed|no connection to the server|the database system is (shutting down|in recovery mode|starting up)/i;

/** The line of pg_restore's stderr that states the error. */
function errorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim());
  return (lines.find((l) => /\berror:/i.test(l) && !/^pg_restore: error: could not execute query$/i.test(l)) ?? firstLine(stderr))
    .replace(/^pg_restore: (error: )?/, '');
}

const BACKUP_FAULT = { details: { fault: 'backup' as FailureFault } };
const ENVIRONMENT = { details: { fault: 'environment' as FailureFault } };

/** Every way a pg_restore run fails, as one operator line that says what to do. */
export function restoreFailure(result: RunResult, what: string): OpsError {
  const stderr = result.stderr;
  const line = errorLine(stderr) || `exit ${result.exitCode}`;
  if (/No space left on device|could not extend file|disk full/i.test(stderr)) {
    return new OpsError('RESTORE', `the disk holding the database server's data filled up during the restore (${line}): free space there (the restore needs about the database's size again), then run it again`, ENVIRONMENT);
  }
  if (CONNECTION_LOST.test(stderr)) {
    return new OpsError('CONNECT', `the server closed the connection during the restore (was it stopped or restarted?): ${line}`);
  }
  const role = /role "([^"]+)" does not exist/.exec(stderr);
  if (role) {
    return new OpsError('RESTORE', `the dump grants rights to role "${role[1]}", which does not exist on this server: create it first (CREATE ROLE "${role[1]}" NOLOGIN), then run the restore again`, ENVIRONMENT);
  }
  if (/did not find magic string|unsupported version|could not read input file|unexpected end of file|could not uncompress data|corrupt|invalid compressed data|could not find block ID/i.test(stderr)) {
    return new OpsError('RESTORE', `${what} cannot read the dump (${line}): the file is damaged; use another backup`, BACKUP_FAULT);
  }
  return new OpsError('RESTORE', `${what} failed (exit ${result.exitCode}): ${line}`, BACKUP_FAULT);
}

async function timedPass(
  program: RestoreProgram,
  name: string,
  options: { database: string; args: readonly string[]; listFile?: string; signal?: AbortSignal },
): Promise<RestorePhase> {
  const started = performance.now();
  const result = await program.restore(options);
  if (result.exitCode !== 0) throw restoreFailure(result, program.what);
  return { name, seconds: (performance.now() - started) / 1000 };
}

/**
 * Restores the dump into `database`, which already has the extension and is in TimescaleDB's
 * restoring mode. Returns how long each pass took.
 */
export async function runPgRestore(
  program: RestoreProgram,
  options: { database: string; mode: RestoreMode; jobs?: number; signal?: AbortSignal },
): Promise<RestorePhase[]> {
  const base = baseRestoreArgs(options.database);
  const signal = options.signal ? { signal: options.signal } : {};
  if (options.mode === 'single') {
    return [await timedPass(program, 'pg_restore', { database: options.database, args: base, ...signal })];
  }
  const jobs = String(options.jobs ?? 2);
  const { catalog, other } = splitDataEntries(await program.list(options.signal));
  const dir = await mkdtemp(join(tmpdir(), 'aetherlens-restore-list-'));
  try {
    const catalogList = join(dir, 'catalog.list');
    const otherList = join(dir, 'data.list');
    await writeFile(catalogList, `${catalog.join('\n')}\n`, { mode: 0o600 });
    await writeFile(otherList, `${other.join('\n')}\n`, { mode: 0o600 });
    const phases: RestorePhase[] = [];
    const db = options.database;
    phases.push(await timedPass(program, 'schema', { database: db, args: [...base, '--section=pre-data'], ...signal }));
    phases.push(await timedPass(program, 'catalog rows', { database: db, args: [...base, '--section=data'], listFile: catalogList, ...signal }));
    phases.push(await timedPass(program, 'table rows', { database: db, args: [...base, '--section=data', `--jobs=${jobs}`], listFile: otherList, ...signal }));
    phases.push(await timedPass(program, 'indexes and constraints', { database: db, args: [...base, '--section=post-data', `--jobs=${jobs}`], ...signal }));
    return phases;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
