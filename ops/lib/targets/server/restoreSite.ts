import type pg from 'pg';
import { describeConnection, type ConnectionInfo } from '../../connection.js';
import { OpsError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { connect, quoteIdent, quoteLiteral } from '../../pg.js';
import { inspectTimescale } from '../../timescale.js';
import { hostRestoreMajor, hostRestoreProgram } from './hostTools.js';
import { SERVER_CAPABILITIES, serverBackupLockKey } from './identity.js';
import { updateExtension } from '../../extensionUpdate.js';
import { pgSqlClient } from '../sqlClient.js';
import { checkDatabaseName, restoreNames } from '../names.js';
import { createRoleStatements, missingRoles, rolesInSql } from '../roles.js';
import { runPgRestore, type RestoreProgram } from './pgRestore.js';
import { withMaintenance } from '../maintenance.js';
import { cleanLeftoverDatabases, createScratchDatabase, dropScratchQuietly } from './scratch.js';
import { listSessions, swapDatabases } from './swap.js';
import type { CopySession, RestoreMode, RestoreSite, ScratchCopy, SiteFacts } from '../restoreSite.js';
import type { BackupLockKey } from '../types.js';

async function prepareDatabase(connection: ConnectionInfo, database: string, version: string | null): Promise<void> {
  const client = await connect(connection, database);
  try {
    if (version === null) return;
    // The dump's own CREATE EXTENSION IF NOT EXISTS then finds it there, at the dump's version.
    try {
      await client.query(`CREATE EXTENSION IF NOT EXISTS timescaledb VERSION ${quoteLiteral(version)}`);
    } catch (error) {
      // The server lists the version (a downgrade script reaches it) but has not its library.
      if (!/could not access file|could not load library/.test((error as Error).message)) throw error;
      throw new OpsError('EXTENSION', `the backup was taken with TimescaleDB ${version}, whose library this server does not have (${(error as Error).message}): restore it on an image or server that has TimescaleDB ${version} installed (e.g. timescale/timescaledb:${version}-pg<major>), then update there; nothing was changed`, { cause: error });
    }
    await client.query('SELECT timescaledb_pre_restore()');
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * A session on the copy with TimescaleDB usable although the database is still in restoring mode:
 * the checks run before timescaledb_post_restore(), so no background job (a refresh, compression
 * or retention policy) changes the data while it is being compared with the backup.
 */
async function copySession(connection: ConnectionInfo, database: string, timescale: boolean): Promise<CopySession> {
  const client: pg.Client = await connect(connection, database);
  if (timescale) await client.query('SET timescaledb.restoring = off');
  return { client: pgSqlClient(client), close: () => client.end().catch(() => {}) };
}

/** The restore site of a server reached from this host: pg_restore from the host's tools (PG_BIN_DIR or PATH). */
export function hostServerSite(connection: ConnectionInfo, pgBinDir: string | undefined): RestoreSite {
  return serverSite({
    connection,
    backupLockKey: serverBackupLockKey(connection),
    program: (dump) => hostRestoreProgram(connection, dump, pgBinDir),
    restoreMajor: () => hostRestoreMajor(pgBinDir),
  });
}

/**
 * A PostgreSQL server: scratch copies are databases on it, made with `program` (pg_restore on the
 * host, or in the container); the swap renames databases.
 */
export function serverSite(options: {
  connection: ConnectionInfo;
  backupLockKey: BackupLockKey;
  program: (dumpPath: string) => RestoreProgram;
  /** Major version of the pg_restore `program` runs, checked against the dump's pg_dump. */
  restoreMajor: () => Promise<number>;
  /** Forces single-job restores (a dump streamed out of a container has no data offsets for -j). */
  singleOnly?: boolean;
}): RestoreSite {
  const { connection } = options;
  const where = `the server at ${describeConnection(connection, 'postgres')}`;
  const facts = async (): Promise<SiteFacts> => {
    const restoreMajor = await options.restoreMajor();
    return withMaintenance(connection, async (client) => {
      // The edition probe opens a session of its own: on the maintenance database, which exists even
      // when the one being restored does not.
      const info = await inspectTimescale(client, { connection: { ...connection, database: client.database ?? 'postgres' }, capabilities: SERVER_CAPABILITIES });
      const versions = (await client.query<{ version: string }>(`SELECT version FROM pg_available_extension_versions WHERE name = 'timescaledb' ORDER BY version`)).rows.map((r) => r.version);
      return {
        serverVersion: info.serverVersion,
        serverMajor: info.serverMajor,
        timescaleVersions: versions,
        ...(info.edition ? { edition: info.edition } : {}),
        dumpFormat: 'custom',
        where,
        restoreMajor,
      };
    });
  };
  return {
    backupLockKey: options.backupLockKey,
    defaultLive: connection.database,
    liveNamed: (into) => checkDatabaseName(into, '--into'),
    async cleanLeftovers(logger: Logger) {
      return (await cleanLeftoverDatabases(connection, logger)).map((l) => l.database);
    },
    scratchName(live, purpose, now) {
      const names = restoreNames(live, purpose, now);
      return { scratch: names.scratch, previous: names.previous, stamp: names.stamp };
    },
    async restoreCopy({ manifest, dumpPath, purpose, scratch, mode, check, starting, signal, logger, createRoles }): Promise<ScratchCopy> {
      check(await facts());
      const program = options.program(dumpPath);
      const needed = rolesInSql(await program.schema(signal));
      const missing = await withMaintenance(connection, (client) => missingRoles(pgSqlClient(client), needed));
      if (missing.length > 0 && createRoles) {
        // Roles are the cluster's, not the dump's: a new major's server starts with none of them.
        logger.warn(`creating role(s) the backup needs as NOLOGIN: ${missing.join(', ')} (give login roles their LOGIN and password again)`);
        await withMaintenance(connection, async (client) => {
          for (const statement of createRoleStatements(missing)) await client.query(statement);
        });
      } else if (missing.length > 0) {
        await program.close();
        throw new OpsError('RESTORE', `the backup's objects belong or are granted to role(s) this server does not have (${missing.join(', ')}): create them first (in psql: ${createRoleStatements(missing).join(' ')}), then run it again; nothing was changed`, { details: { fault: 'environment' } });
      }
      starting?.();
      const started = performance.now();
      const version = manifest.versions.timescaledb;
      await withMaintenance(connection, (client) => createScratchDatabase(client, scratch, { purpose, backup: manifest.id }));
      let phases;
      try {
        await prepareDatabase(connection, scratch, version);
        const effective: RestoreMode = options.singleOnly ? 'single' : mode;
        phases = await runPgRestore(program, { database: scratch, mode: effective, ...(signal ? { signal } : {}) });
      } catch (error) {
        await dropScratchQuietly(connection, scratch, logger);
        throw error;
      } finally {
        await program.close();
      }
      const restoreSeconds = (performance.now() - started) / 1000;
      return {
        label: `database "${scratch}"`,
        restoreSeconds,
        phases,
        open: () => copySession(connection, scratch, version !== null),
        async finish() {
          if (version === null) return;
          const client = await connect(connection, scratch);
          try {
            await client.query('SELECT timescaledb_post_restore()');
          } finally {
            await client.end().catch(() => {});
          }
        },
        async restoringOff() {
          const client = await connect(connection, scratch);
          try {
            const value = (await client.query<{ v: string | null }>(`SELECT current_setting('timescaledb.restoring', true) AS v`)).rows[0]?.v;
            return value !== 'on';
          } finally {
            await client.end().catch(() => {});
          }
        },
        updateExtension: (to, beforeUpdate) => updateExtension(connection, scratch, to, beforeUpdate),
        discard: async () => void (await dropScratchQuietly(connection, scratch, logger)),
        swapInto: ({ live, previous, stamp, force, logger: log, backupId }) =>
          withMaintenance(connection, (client) => swapDatabases(client, {
            live, scratch, previous, stamp, force, logger: log, backupId,
            stepsWhere: `in psql connected to the postgres database (psql "${describeConnection({ ...connection, password: undefined }, 'postgres')}"${connection.password !== undefined ? ' with PGPASSWORD set' : ''})`,
          })),
      };
    },
    async liveRowCounts(live, tables) {
      return withMaintenance(connection, async (m) => {
        if ((await m.query('SELECT 1 FROM pg_database WHERE datname = $1', [live])).rows.length === 0) return undefined;
        const client = await connect(connection, live);
        try {
          const counts: Record<string, number> = {};
          for (const table of tables) {
            const [schema, name] = table.includes('.') ? (table.split(/\.(.*)/s) as [string, string]) : ['public', table];
            const exists = (await client.query(`SELECT to_regclass($1) AS r`, [`${quoteIdent(schema)}.${quoteIdent(name)}`])).rows[0]?.r;
            if (exists) counts[table] = Number((await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quoteIdent(schema)}.${quoteIdent(name)}`)).rows[0]!.n);
          }
          return counts;
        } finally {
          await client.end().catch(() => {});
        }
      });
    },
    liveSessions: (live) => withMaintenance(connection, (client) => listSessions(client, live)),
    close: async () => {},
  };
}
