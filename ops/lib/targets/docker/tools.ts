/**
 * The PostgreSQL client tools inside the container (pg_dump, pg_restore and their versions): they
 * always match the server. Each runs through `docker exec` (exec.ts): values of PGUSER, PGDATABASE
 * and PGPASSWORD go in the docker CLI's environment, only their names in argv, and a run that is
 * aborted or fails is stopped inside the container too.
 */
import { randomUUID } from 'node:crypto';
import type { ConnectionInfo } from '../../connection.js';
import { isOpsError, OpsError } from '../../errors.js';
import { firstLine } from '../../run.js';
import { restoreFailure, type RestoreProgram } from '../server/pgRestore.js';
import { parsePgVersion } from '../pgVersion.js';
import { pgDumpArgs } from '../server/pgDump.js';
import type { ToolVersions } from '../types.js';
import { containerCommand, execInContainer } from './exec.js';

/** The libpq variables the tools inside the container get (names in argv, values from our env). */
export function containerToolEnv(connection: ConnectionInfo): Record<string, string> {
  return {
    PGUSER: connection.user,
    PGDATABASE: connection.database,
    ...(connection.password !== undefined ? { PGPASSWORD: connection.password } : {}),
  };
}

/** pg_dump inside the container: importing our snapshot, writing the custom format to stdout. */
export function pgDumpInContainer(snapshot: string, compressionLevel: number): string[] {
  return ['pg_dump', ...pgDumpArgs({ snapshot, compressionLevel })];
}

/**
 * The exact `docker exec` that dumps the database. Values of PGUSER/PGDATABASE/PGPASSWORD and of
 * the run's marker go in `env` (the docker CLI's environment), their names only in `args`.
 */
export function dockerDumpCommand(container: string, connection: ConnectionInfo, snapshot: string, compressionLevel: number, mark: string = randomUUID()): { command: string; args: string[]; env: Record<string, string> } {
  return containerCommand(container, pgDumpInContainer(snapshot, compressionLevel), { env: containerToolEnv(connection), mark });
}

/**
 * `docker exec -i` running pg_restore inside the container, the dump on its standard input.
 * Variables are named without values (`-e PGPASSWORD`): the docker CLI copies them from its own
 * environment, so the password never appears in any argv. `mark` tags the run (exec.ts).
 */
export function dockerRestoreCommand(container: string, connection: ConnectionInfo, args: readonly string[], mark: string = randomUUID()): { command: string; args: string[]; env: Record<string, string> } {
  return containerCommand(container, ['pg_restore', ...args], { env: containerToolEnv(connection), interactive: true, mark });
}

/** The version of `tool` inside the container, or OpsError('TOOL'). */
async function containerToolVersion(container: string, tool: 'pg_dump' | 'pg_restore') {
  const result = await execInContainer(container, [tool, '--version'], { what: `${tool} --version`, timeoutMs: 30_000 });
  const parsed = parsePgVersion(result.stdout);
  if (result.exitCode !== 0 || !parsed) {
    throw new OpsError('TOOL', `${tool} in container ${container} did not report its version${tool === 'pg_dump' ? ` (${firstLine(result.stderr) || `exit ${result.exitCode}`})` : ''}: is it a PostgreSQL image?`);
  }
  return parsed;
}

export async function dockerToolVersions(container: string): Promise<ToolVersions> {
  const parsed = await containerToolVersion(container, 'pg_dump');
  return { pgDump: { name: 'pg_dump', version: parsed.version, where: `container ${container}`, origin: 'container' } };
}

export async function dockerRestoreMajor(container: string): Promise<number> {
  return (await containerToolVersion(container, 'pg_restore')).major;
}

/**
 * pg_restore inside the container. Every run stops inside the container when aborted or failed
 * (docker exec forwards no signal), and docker's own failures (container stopped, exit
 * 125/126/127/137) are one line each (exec.ts).
 */
export function dockerRestoreProgram(container: string, connection: ConnectionInfo, dumpPath: string): RestoreProgram {
  const env = containerToolEnv(connection);
  const inContainer = (args: readonly string[], what: string, signal?: AbortSignal) =>
    execInContainer(container, ['pg_restore', ...args], { what, env, inputFile: dumpPath, ...(signal ? { signal } : {}) });
  return {
    what: `pg_restore in container ${container}`,
    async list(signal) {
      const result = await inContainer(['--list'], 'pg_restore --list', signal);
      if (result.exitCode !== 0) throw restoreFailure(result, `pg_restore --list in container ${container}`);
      return result.stdout;
    },
    async schema(signal) {
      const result = await inContainer(['--schema-only', '--file=-'], 'pg_restore --schema-only', signal);
      if (result.exitCode !== 0) throw restoreFailure(result, `pg_restore --schema-only in container ${container}`);
      return result.stdout;
    },
    async restore({ args, listFile, signal }) {
      // A list file would have to be copied into the container; the docker site restores on one job.
      if (listFile) throw new OpsError('RESTORE', 'a two-phase restore is not available on the docker target');
      try {
        return await inContainer(args, 'pg_restore', signal);
      } catch (error) {
        // It only ever restores into a scratch copy, which the caller drops (or the next run does).
        if (!isOpsError(error) || error.code === 'ABORTED') throw error;
        throw new OpsError(error.code, `${error.message}; the live database was not changed`, { cause: error });
      }
    },
    close: async () => {},
  };
}
