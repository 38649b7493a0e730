import { join } from 'node:path';
import { OpsError } from '../errors.js';
import { describeConnection, libpqEnv, type ConnectionInfo } from '../connection.js';
import { run, firstLine } from '../run.js';
import { openSnapshotSession, parsePgVersion, pgDumpArgs, runDumpProgram } from './pgDump.js';
import type { Target, ToolVersions } from './types.js';

/** The host's pg_dump: PG_BIN_DIR when set (Debian: /usr/lib/postgresql/15/bin), else PATH. */
export function hostTool(name: string, pgBinDir?: string): string {
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

/** Any PostgreSQL >= 15 with TimescaleDB, reached with DATABASE_URL; tools run on the host. */
export function serverTarget(connection: ConnectionInfo, options: { pgBinDir?: string } = {}): Target {
  const pgDump = hostTool('pg_dump', options.pgBinDir);
  return {
    kind: 'server',
    label: describeConnection(connection),
    connection,
    toolVersions: () => hostToolVersions(connection, options.pgBinDir),
    openDumpSession: () =>
      openSnapshotSession(connection, (snapshot, dump) =>
        // pg_dump writes the file itself: measured ~25% faster than piping through this process,
        // and the archive stays seekable, so it records data offsets (parallel pg_restore).
        runDumpProgram(pgDump, pgDumpArgs({ snapshot, compressionLevel: dump.compressionLevel, file: dump.file }), {
          env: libpqEnv(connection),
          what: 'pg_dump',
          ...(dump.signal ? { signal: dump.signal } : {}),
          ...(dump.onSpawn ? { onSpawn: dump.onSpawn } : {}),
        })),
    close: async () => {},
  };
}
