import { libpqEnv, type ConnectionInfo } from '../../connection.js';
import { runDueJobs } from '../../embedded/jobs.js';
import type { Target } from '../types.js';
import { SERVER_CAPABILITIES, serverBackupLockKey, serverLabel } from './identity.js';
import { hostServerSite } from './restoreSite.js';
import { hostTool, hostToolVersions } from './hostTools.js';
import { openSnapshotSession, pgDumpArgs, runDumpProgram } from './pgDump.js';

/** Any PostgreSQL >= 15 with TimescaleDB, reached with DATABASE_URL; tools run on the host. */
export function serverTarget(connection: ConnectionInfo, options: { pgBinDir?: string } = {}): Target {
  const pgDump = hostTool('pg_dump', options.pgBinDir);
  return {
    kind: 'server',
    label: serverLabel(connection),
    backupLockKey: serverBackupLockKey(connection),
    backupName: (database) => database,
    // The server's background workers run the policies; on demand, its job_stats says what is due.
    runPolicyJobs: (options) => runDueJobs(connection, options),
    connection,
    capabilities: SERVER_CAPABILITIES,
    openRestoreSite: async () => hostServerSite(connection, options.pgBinDir),
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
