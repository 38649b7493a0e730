import { createWriteStream, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { OpsError } from '../../errors.js';
import { acquireLock, lockHolder } from '../../fileLock.js';
import { openEmbeddedEngine, type EmbeddedEngine } from '../../embedded/engine.js';
import { runDueJobs } from '../../embedded/jobs.js';
import { embeddedPaths } from '../../embedded/layout.js';
import { describeServeOwner } from '../../embedded/owner.js';
import { readPasswordFile } from '../../embedded/password.js';
import { firstLine } from '../../run.js';
import { pgliteSqlClient } from '../sqlClient.js';
import type { DumpOptions, DumpSession, PolicyJobOptions, RestoreSiteRequest, Target, ToolVersions } from '../types.js';
import { EMBEDDED_CAPABILITIES, embeddedBackupLockKey, embeddedLabel } from './identity.js';
import { embeddedSite } from './restoreSite.js';

/** DESIGN section 2: the plain dump restores with multi-row INSERTs; 1000 rows per statement. */
export const EMBEDDED_ROWS_PER_INSERT = 1000;

function pgliteToolsVersion(): string {
  try {
    const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite-tools');
    return (JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

async function embeddedToolVersions(engine: EmbeddedEngine): Promise<ToolVersions> {
  // The WebAssembly pg_dump is built from the same PostgreSQL tree as the engine it ships with.
  const version = (await engine.db.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v.split(' ')[0]!;
  return { pgDump: { name: 'pg_dump', version, where: `in-process (@electric-sql/pglite-tools ${pgliteToolsVersion()})`, origin: 'in-process' } };
}

/** Plain SQL from the in-process pg_dump, gzip-compressed into `options.file`. */
async function dumpEmbedded(engine: EmbeddedEngine, options: DumpOptions): Promise<{ stderr: string }> {
  if (options.signal?.aborted) throw new OpsError('ABORTED', 'the embedded pg_dump was interrupted');
  let sql: Uint8Array;
  // pg_dump runs on the engine's only session and leaves its transaction and settings there
  // (DateStyle, extra_float_digits, restrict_nonsystem_relation_kind = view, which hides
  // TimescaleDB's information views): put the session back as it was.
  const saved = (await engine.db.query<{ name: string; setting: string }>(`SELECT name, setting FROM pg_settings WHERE source = 'session'`)).rows;
  let failed = false;
  try {
    sql = await engine.db.dump([`--rows-per-insert=${EMBEDDED_ROWS_PER_INSERT}`]);
  } catch (error) {
    failed = true;
    // Interrupted: the engine was stopped (engineThread.ts) and says so.
    if (error instanceof OpsError) throw error;
    const message = (error as Error).message.replace(/^pg_dump failed with exit code \d+\.\s*(Error message:\s*)?/, '');
    throw new OpsError('BACKUP', `the embedded pg_dump failed: ${firstLine(message) || (error as Error).message}`, { cause: error });
  } finally {
    // pg_dump ends without COMMIT; on a server its disconnect ends the transaction, here the
    // session keeps it open. It only read, so roll it back before anything else runs.
    const putBack = async () => {
      await engine.db.exec('ROLLBACK');
      await engine.db.exec('RESET ALL');
      for (const s of saved) await engine.db.query('SELECT set_config($1, $2, false)', [s.name, s.setting]);
    };
    await putBack().catch((error: unknown) => {
      if (!failed) throw error;
    });
  }
  try {
    const source = Readable.from([sql]);
    const gzip = createGzip({ level: options.compressionLevel });
    const out = createWriteStream(options.file);
    await (options.signal ? pipeline(source, gzip, out, { signal: options.signal }) : pipeline(source, gzip, out));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC') throw new OpsError('BACKUP', 'the disk holding the backup directory is full (No space left on device)', { cause: error });
    if (code === 'ABORT_ERR') throw new OpsError('ABORTED', 'the embedded dump was interrupted', { cause: error });
    throw error;
  }
  return { stderr: '' };
}

/**
 * This process owns the only session there is, so there is no snapshot to export (and pg_dump's
 * own BEGIN would clash with ours). Nothing else writes while we hold the data directory's lock,
 * except a client of the engine's 127.0.0.1 socket between two of our statements: the backup
 * fingerprints before and after the dump ('exclusive') to prove that did not happen.
 */
function embeddedDumpSession(engine: EmbeddedEngine): DumpSession {
  return {
    client: pgliteSqlClient(engine.db),
    consistency: 'exclusive',
    format: 'sql-gzip',
    dump: (options) => dumpEmbedded(engine, options),
    close: async () => {},
  };
}

/**
 * What the embedded target has in common however it is reached: its backup lock, its backups'
 * name (its database is PGlite's template1), and where its policy jobs' last runs are kept (the
 * engine has no scheduler to keep job_stats: a file in the data directory).
 */
function embeddedCommon(root: string, connection: () => Target['connection']) {
  return {
    // A drill's scratch directory sits beside this one; a restore takes the lock this Target may hold, and refuses then.
    openRestoreSite: (request: RestoreSiteRequest) => embeddedSite({ dataDir: root, purpose: request.purpose, command: request.command }),
    kind: 'embedded' as const,
    capabilities: EMBEDDED_CAPABILITIES,
    backupLockKey: embeddedBackupLockKey(root),
    backupName: () => 'embedded',
    runPolicyJobs: (options: PolicyJobOptions) => runDueJobs(connection(), { ...options, stateDir: root }),
  };
}

/** The embedded target; `engine` is the in-process engine when this process owns the database. */
export interface EmbeddedTarget extends Target {
  readonly engine?: EmbeddedEngine;
}

/**
 * Opens the embedded database. When `aetherlens-db local serve` already has it open, SQL goes to
 * that server (one connection at a time); otherwise this process opens it, holding the data
 * directory's lock so no second process can open the same files.
 */
export async function openEmbeddedTarget(options: { dataDir: string; command: string; requireOwnership?: boolean }): Promise<EmbeddedTarget> {
  const paths = embeddedPaths(options.dataDir);
  // Only a live process holds the lock (fileLock.ts), so a holder with a port is serving.
  const holder = await lockHolder(paths.lock);
  if (holder && typeof holder.port === 'number' && !options.requireOwnership) {
    const notHere = () =>
      new OpsError('LOCK_HELD', `the embedded database ${paths.root} is served by pid ${holder.pid} (${holder.command}, 127.0.0.1:${String(holder.port)}): a backup needs the engine in this process, so stop that server first (aetherlens-db local stop) and run the backup again`);
    // The server requires the password it keeps in the data directory (readable by its owner only).
    const password = await readPasswordFile(paths.password);
    const connection = { host: '127.0.0.1', port: holder.port, user: 'postgres', ...(password ? { password } : {}), database: String(holder.database ?? 'template1') };
    return {
      ...embeddedCommon(paths.root, () => connection),
      label: `${embeddedLabel(paths.root)} (served by pid ${holder.pid} on 127.0.0.1:${holder.port})`,
      connection,
      toolVersions: () => Promise.reject(notHere()),
      openDumpSession: () => Promise.reject(notHere()),
      close: async () => {},
    };
  }
  if (holder) throw new OpsError('LOCK_HELD', describeServeOwner(paths.root)(holder));
  const lock = await acquireLock(paths.lock, { command: options.command, describe: describeServeOwner(paths.root) });
  try {
    const engine = await openEmbeddedEngine({ dataDir: paths.root });
    return {
      ...embeddedCommon(paths.root, () => engine.info),
      label: embeddedLabel(paths.root),
      connection: engine.info,
      engine,
      toolVersions: () => embeddedToolVersions(engine),
      openDumpSession: async () => embeddedDumpSession(engine),
      async close() {
        await engine.close();
        await lock.release();
      },
    };
  } catch (error) {
    await lock.release();
    throw error;
  }
}
