import type { ConnectionInfo } from '../connection.js';
import { isOpsError, OpsError } from '../errors.js';
import { readExtensionVersions, updateExtension, updateTarget, type ExtensionUpdate } from '../extensionUpdate.js';
import { inventory } from '../inventory.js';
import { silentLogger, type Logger } from '../logger.js';
import { withClient } from '../pg.js';
import { backup } from '../backup/backup.js';
import { drill, type DrillReport } from '../restore/drill.js';
import type { Target } from '../targets/types.js';
import { carryOverMajor, type MajorMove } from './major.js';
import { drilledBackupAt } from './prerequisite.js';

export interface UpgradeOptions {
  /** The open target: its connection, label, backups and restore sites. */
  target: Target;
  backupDir: string;
  /** Take a backup and drill it first when no drilled backup at the current version exists. */
  backupFirst?: boolean;
  /** The version to move to; default: the server's default version (what the image ships). */
  to?: string;
  migrationsDir?: string;
  signal?: AbortSignal;
  logger?: Logger;
}

export interface UpgradeReport {
  database: string;
  before: string;
  after: string;
  /** Databases ALTER EXTENSION ran in (template1 included when it has the extension). */
  updated: ExtensionUpdate[];
  /** Databases that were already at the target version. */
  unchanged: string[];
  /** The pre-upgrade backup, and its drill on the new version; null when nothing had to change. */
  backup: { id: string; takenNow: boolean; drillAfter: DrillReport } | null;
  jobs: { total: number; scheduled: number; problems: string[] };
  inventoryMissing: string[];
  /** Steps that bring back the data as it was before the upgrade. */
  rollback: string[];
  /** The first start of a new PostgreSQL major: the older major's pre-upgrade backup carried over (major.ts). */
  major: MajorMove | null;
  ok: boolean;
  seconds: number;
}

interface JobState {
  id: string;
  proc: string;
  scheduled: boolean;
}

async function jobStates(connection: ConnectionInfo): Promise<JobState[]> {
  return withClient(connection, async (c) => (await c.query<{ id: string; proc: string; scheduled: boolean }>(
    `SELECT job_id::text AS id, proc_name::text AS proc, scheduled FROM timescaledb_information.jobs ORDER BY job_id`)).rows);
}

/** Every database that accepts connections: the target's first, template1 last (so new databases get the new version). */
async function databasesInOrder(connection: ConnectionInfo): Promise<string[]> {
  return withClient(connection, async (c) => (await c.query<{ datname: string }>(
    `SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname <> $1, datname = 'template1', datname`, [connection.database])).rows.map((r) => r.datname), 'postgres');
}

export function rollbackSteps(before: string, serverMajor: number, backupId: string): string[] {
  return [
    `TimescaleDB has no way back in place (no downgrade script to ${before}); to return to the data as it was before the upgrade:`,
    `1. run TimescaleDB ${before} again on an empty data directory: the image timescale/timescaledb:${before}-pg${serverMajor} with a new volume (keep the upgraded one until you are sure)`,
    `2. aetherlens-db restore ${backupId} --yes   (the backup drilled before the upgrade; it restores at ${before})`,
  ];
}

const refused = (why: string) => new OpsError('EXTENSION', `upgrade refused: ${why}; nothing was changed`);

/**
 * `aetherlens-db upgrade`: the guarded TimescaleDB minor upgrade. Refuses unless a backup taken
 * at the current version has passed a drill (`backupFirst` takes and drills one); then runs ALTER
 * EXTENSION timescaledb UPDATE as the first statement of a fresh session in every database that
 * has the extension (the target's first, template1 last); checks the inventory and that every job
 * is still there and scheduled as before; drills the pre-upgrade backup on the new version. A
 * second run finds every database at the target version and changes nothing.
 */
export async function upgrade(options: UpgradeOptions): Promise<UpgradeReport> {
  const logger = options.logger ?? silentLogger;
  const started = performance.now();
  const { target } = options;
  const { connection, label } = target;
  // The embedded engine carries exactly one TimescaleDB version and one session.
  if (target.capabilities.extensionUpgrade !== 'alter-extension') throw new OpsError('USAGE', 'upgrade runs on a PostgreSQL server (DATABASE_URL or --container): the embedded engine\'s TimescaleDB comes with aetherlens-db itself, so upgrade aetherlens-db instead');
  try {
    const major = await carryOverMajor({ target, backupDir: options.backupDir, logger, ...(options.signal ? { signal: options.signal } : {}) });
    const versions = await readExtensionVersions(connection, connection.database);
    const before = versions.installed;
    if (before === null) throw refused(`database "${connection.database}" has no TimescaleDB extension (run aetherlens-db migrate first)`);
    if (options.to !== undefined && !versions.available.includes(options.to)) {
      throw refused(`TimescaleDB ${options.to} is not installed on this server (it offers ${versions.available.join(', ')}): use the timescale/timescaledb:${options.to}-pg<major> image or install that version`);
    }
    const after = updateTarget(versions, options.to)!;
    const databases = await databasesInOrder(connection);
    const pending: string[] = [];
    const unchanged: string[] = [];
    for (const database of databases) {
      const v = await readExtensionVersions(connection, database);
      if (v.installed === null) continue;
      (updateTarget(v, after) === v.installed ? unchanged : pending).push(database);
    }
    const serverMajor = await withClient(connection, async (c) => Math.floor(Number((await c.query<{ n: string }>(`SELECT current_setting('server_version_num') AS n`)).rows[0]!.n) / 10000));
    if (pending.length === 0) {
      logger.info(`every database with TimescaleDB is at ${after} already: nothing to do`);
      const jobs = await jobStates(connection);
      return { database: connection.database, before, after, updated: [], unchanged, backup: null, jobs: { total: jobs.length, scheduled: jobs.filter((j) => j.scheduled).length, problems: [] }, inventoryMissing: [], rollback: [], major, ok: true, seconds: (performance.now() - started) / 1000 };
    }

    let proven = await drilledBackupAt(options.backupDir, label, before);
    let takenNow = false;
    if (!proven) {
      if (!options.backupFirst) throw refused(`no backup taken at TimescaleDB ${before} has passed a drill in ${options.backupDir}: run aetherlens-db upgrade --backup-first (or aetherlens-db backup, then aetherlens-db verify --latest)`);
      logger.info(`taking a backup at TimescaleDB ${before} before the upgrade`);
      const made = await backup({ target, dir: options.backupDir, logger, ...(options.signal ? { signal: options.signal } : {}) });
      logger.info(`drilling ${made.id} at TimescaleDB ${before}`);
      // Drilled at the version it was taken with: the proof that the way back works.
      const drilled = await drill({ target, backupDir: options.backupDir, backup: made.id, updateTo: before, logger, ...(options.signal ? { signal: options.signal } : {}) });
      if (!drilled.ok) throw refused(`the backup ${made.id} taken before the upgrade failed its drill (${drilled.differences[0]})`);
      proven = await drilledBackupAt(options.backupDir, label, before);
      takenNow = true;
    }
    if (!proven) throw refused(`the backup taken before the upgrade is not in the catalog of ${options.backupDir}`);
    if (options.signal?.aborted) throw new OpsError('ABORTED', 'upgrade interrupted before any ALTER EXTENSION: nothing was changed');

    const jobsBefore = await jobStates(connection);
    const updated: ExtensionUpdate[] = [];
    for (const database of pending) {
      logger.info(`ALTER EXTENSION timescaledb UPDATE TO '${after}' in database "${database}"`);
      try {
        updated.push(await updateExtension(connection, database, after));
      } catch (error) {
        const done = updated.map((u) => u.database);
        const message = isOpsError(error) ? error.message : (error as Error).message;
        throw new OpsError('EXTENSION', `upgrade stopped: ${message}${done.length ? `; already at ${after}: ${done.join(', ')} (run upgrade again once the cause is fixed: it continues where it stopped)` : '; nothing was changed'}; backup ${proven.id} is proven at ${before}`, { cause: error });
      }
    }

    const jobsAfter = await jobStates(connection);
    const problems: string[] = [];
    for (const job of jobsBefore) {
      const now = jobsAfter.find((j) => j.id === job.id);
      if (!now) problems.push(`job ${job.id} (${job.proc}) is gone`);
      else if (job.scheduled && !now.scheduled) problems.push(`job ${job.id} (${job.proc}) is no longer scheduled`);
    }
    const inv = await inventory({ target, ...(options.migrationsDir ? { migrationsDir: options.migrationsDir } : {}) });
    const inventoryMissing = [inv.tables, inv.hypertables, inv.indexes, inv.continuousAggregates, inv.views, inv.policies].flatMap((t) => t.missing);

    logger.info(`drilling the pre-upgrade backup ${proven.id} on TimescaleDB ${after}`);
    const drillAfter = await drill({ target, backupDir: options.backupDir, backup: proven.id, updateTo: after, logger, ...(options.signal ? { signal: options.signal } : {}) });
    return {
      database: connection.database,
      before,
      after,
      updated,
      unchanged,
      backup: { id: proven.id, takenNow, drillAfter },
      jobs: { total: jobsAfter.length, scheduled: jobsAfter.filter((j) => j.scheduled).length, problems },
      inventoryMissing,
      rollback: rollbackSteps(before, serverMajor, proven.id),
      major,
      ok: problems.length === 0 && inventoryMissing.length === 0 && drillAfter.ok,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (error) {
    if (isOpsError(error)) throw error;
    throw new OpsError('EXTENSION', `upgrade failed: ${(error as Error).message}`, { cause: error });
  }
}
