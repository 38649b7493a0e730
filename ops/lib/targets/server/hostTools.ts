import { join } from 'node:path';
import { OpsError } from '../../errors.js';
import { libpqEnv, type ConnectionInfo } from '../../connection.js';
import { run, firstLine } from '../../run.js';
import type { ToolVersions } from '../types.js';
import { parsePgVersion } from '../pgVersion.js';
import { restoreFailure, type RestoreProgram } from './pgRestore.js';

/** A PostgreSQL client program on this host: in PG_BIN_DIR when set (Debian: /usr/lib/postgresql/15/bin), else on PATH. */
export function hostTool(name: 'pg_dump' | 'pg_restore', pgBinDir?: string): string {
  return pgBinDir ? join(pgBinDir, name) : name;
}

/** Runs `pg_dump --version` with the same environment as the dump (Debian's wrapper picks by it). */
export async function hostToolVersions(connection: ConnectionInfo, pgBinDir?: string): Promise<ToolVersions> {
  const pgDump = hostTool('pg_dump', pgBinDir);
  const result = await run(pgDump, ['--version'], { env: libpqEnv(connection), timeoutMs: 30_000 });
  const parsed = parsePgVersion(result.stdout);
  if (result.exitCode !== 0 || !parsed) {
    throw new OpsError('TOOL', `${pgDump} --version did not report a PostgreSQL version (${firstLine(result.stderr || result.stdout) || `exit ${result.exitCode}`}): check PG_BIN_DIR or PATH`);
  }
  return { pgDump: { name: 'pg_dump', version: parsed.version, where: pgDump, origin: 'host' } };
}

/** pg_restore on this host, reaching the server with the libpq environment (no secrets in argv). */
export function hostRestoreProgram(connection: ConnectionInfo, dumpPath: string, pgBinDir?: string): RestoreProgram {
  const tool = hostTool('pg_restore', pgBinDir);
  return {
    what: 'pg_restore',
    async list(signal) {
      const result = await run(tool, ['--list', dumpPath], { ...(signal ? { signal } : {}) });
      if (result.exitCode !== 0) throw restoreFailure(result, 'pg_restore --list');
      return result.stdout;
    },
    async schema(signal) {
      const result = await run(tool, ['--schema-only', '--file=-', dumpPath], { ...(signal ? { signal } : {}) });
      if (result.exitCode !== 0) throw restoreFailure(result, 'pg_restore --schema-only');
      return result.stdout;
    },
    restore: ({ database, args, listFile, signal }) =>
      run(tool, [...args, ...(listFile ? [`--use-list=${listFile}`] : []), dumpPath], { env: libpqEnv(connection, database), ...(signal ? { signal } : {}) }),
    close: async () => {},
  };
}

/** The host's pg_restore major version, e.g. 15. */
export async function hostRestoreMajor(pgBinDir?: string): Promise<number> {
  const tool = hostTool('pg_restore', pgBinDir);
  const result = await run(tool, ['--version'], { timeoutMs: 30_000 });
  const parsed = parsePgVersion(result.stdout);
  if (result.exitCode !== 0 || !parsed) throw new OpsError('TOOL', `${tool} --version did not report a version: check PG_BIN_DIR or PATH`);
  return parsed.major;
}
