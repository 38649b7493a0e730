import { describeConnection, type ConnectionInfo } from '../connection.js';
import type { TargetSpec } from '../config.js';
import { randomUUID } from 'node:crypto';
import { isOpsError, OpsError } from '../errors.js';
import { openTarget } from '../targets/open.js';
import { containerToolEnv } from '../targets/docker.js';
import { containerCommand, execInContainer } from '../targets/dockerExec.js';
import { embeddedSite } from './embeddedSite.js';
import type { ScratchPurpose } from './names.js';
import { restoreFailure, type RestoreProgram } from './pgRestore.js';
import { hostRestoreMajor, hostRestoreProgram, serverSite } from './serverSite.js';
import type { RestoreSite } from './site.js';

/**
 * `docker exec -i` running pg_restore inside the container, the dump on its standard input.
 * Variables are named without values (`-e PGPASSWORD`): the docker CLI copies them from its own
 * environment, so the password never appears in any argv. `mark` tags the run (dockerExec.ts).
 */
export function dockerRestoreCommand(container: string, connection: ConnectionInfo, args: readonly string[], mark: string = randomUUID()): { command: string; args: string[]; env: Record<string, string> } {
  return containerCommand(container, ['pg_restore', ...args], { env: containerToolEnv(connection), interactive: true, mark });
}

/**
 * pg_restore inside the container: the tools there always match the server. Every run stops
 * inside the container when aborted or failed (docker exec forwards no signal), and docker's own
 * failures (container stopped, exit 125/126/127/137) are one line each (dockerExec.ts).
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

async function dockerRestoreMajor(container: string): Promise<number> {
  const result = await execInContainer(container, ['pg_restore', '--version'], { what: 'pg_restore --version', timeoutMs: 30_000 });
  const major = /\)\s*(\d+)/.exec(result.stdout)?.[1];
  if (result.exitCode !== 0 || !major) throw new OpsError('TOOL', `pg_restore in container ${container} did not report its version: is it a PostgreSQL image?`);
  return Number(major);
}

/**
 * Opens the place the configured target restores to (see site.ts). For a restore on the embedded
 * target this takes the data directory's lock, refusing while `local serve` has it open. Close it.
 */
export async function openRestoreSite(spec: TargetSpec, options: { purpose: ScratchPurpose; command: string; pgBinDir?: string }): Promise<RestoreSite> {
  switch (spec.kind) {
    case 'server': {
      const pgBinDir = options.pgBinDir ?? process.env.PG_BIN_DIR;
      return serverSite({
        kind: 'server',
        connection: spec.connection,
        lockLabel: describeConnection(spec.connection),
        program: (dump) => hostRestoreProgram(spec.connection, dump, pgBinDir),
        restoreMajor: () => hostRestoreMajor(pgBinDir),
      });
    }
    case 'docker': {
      const target = await openTarget(spec, { command: options.command });
      await target.close();
      return serverSite({
        kind: 'docker',
        connection: target.connection,
        lockLabel: target.label,
        program: (dump) => dockerRestoreProgram(spec.container, target.connection, dump),
        restoreMajor: () => dockerRestoreMajor(spec.container),
        // The dump streamed out of the container on stdout: no data offsets, so no parallel jobs.
        singleOnly: true,
      });
    }
    case 'embedded':
      return embeddedSite({ dataDir: spec.dataDir, purpose: options.purpose, command: options.command });
  }
}
