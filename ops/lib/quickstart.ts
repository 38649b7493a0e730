import type { Logger } from './logger.js';
import { withClient } from './pg.js';
import { openTarget } from './targets/open.js';
import { migrate } from './migrations/runner.js';
import { inventory, type Inventory } from './inventory.js';
import { seed, type SeedSummary } from './seed/index.js';
import type { JobRun } from './embedded/jobs.js';
import { backup } from './backup/index.js';
import { compressionSummary, sampleQueries, type CompressionSummary, type TimedQuery } from './report.js';
import { DEFAULT_SERVE_PORT } from './embedded/serve.js';
import { embeddedPaths } from './embedded/layout.js';
import { prepareDrill } from './restore/index.js';

export interface QuickstartReport {
  dataDir: string;
  inventory: Inventory;
  seed: Omit<SeedSummary, 'adminPassword'>;
  /** Only on the run that created the admin user: shown once. */
  adminPassword?: string;
  jobs: JobRun[];
  queries: TimedQuery[];
  compression: CompressionSummary;
  backup: { id: string; path: string; bytes: number; sha256: string; seconds: number };
  drill: { result: 'passed' | 'failed'; seconds: number; rtoSeconds: number | null; differences: string[] };
  psql: string[];
}

/**
 * The whole lifecycle on the embedded engine, as a newcomer's first run: open (or create) the
 * database, migrate, seed, run the due policy jobs, take a backup and prove it with a drill.
 * 30 days of readings, so compression (after 7 days) and the daily aggregates have data.
 */
export async function quickstart(options: { dataDir: string; backupDir: string; logger: Logger; adminPassword?: string }): Promise<QuickstartReport> {
  const { logger } = options;
  const spec = { kind: 'embedded' as const, dataDir: options.dataDir };
  const target = await openTarget(spec, { command: 'quickstart', requireOwnership: true });
  // The drill's scratch copy (a new cluster and its engine, seconds of work) is made now, on the
  // other core, while this engine migrates and seeds: they share no files.
  const drill = await prepareDrill({ target, backupDir: options.backupDir, logger }).catch(async (error: unknown) => {
    await target.close();
    throw error;
  });
  let prepared;
  try {
    logger.info(`1/5 migrate (${target.label})`);
    await migrate({ target, logger });
    logger.info('2/5 seed');
    const seeded = await seed(target, { days: 30, ...(options.adminPassword ? { adminPassword: options.adminPassword } : {}) }, logger);
    logger.info('3/5 policy jobs');
    const jobs = await target.runPolicyJobs({ logger });
    const inv = await inventory({ target });
    const [queries, compression] = await withClient(target.connection, async (client) => [
      await sampleQueries(client, 'shelly-office-01'),
      await compressionSummary(client),
    ] as const);
    logger.info('4/5 backup');
    const taken = await backup({ target, dir: options.backupDir, logger });
    prepared = { seeded, jobs, inv, queries, compression, taken, database: target.connection.database };
  } catch (error) {
    await drill.cancel();
    await target.close();
    throw error;
  }
  // The drill restores into its scratch copy while the live engine closes (its checkpoint).
  logger.info('5/5 restore drill');
  const closing = target.close();
  const drilled = await drill.run(prepared.taken.path).finally(() => closing);
  const { seeded, jobs, inv, queries, compression, taken } = prepared;
  const { adminPassword, ...seedSummary } = seeded;
  return {
    dataDir: options.dataDir,
    inventory: inv,
    seed: seedSummary,
    ...(adminPassword ? { adminPassword } : {}),
    jobs,
    queries,
    compression,
    backup: { id: taken.id, path: taken.path, bytes: taken.manifest.dump.bytes, sha256: taken.manifest.dump.sha256, seconds: taken.manifest.durationSeconds },
    drill: { result: drilled.ok ? 'passed' : 'failed', seconds: drilled.seconds, rtoSeconds: drilled.rtoSeconds, differences: drilled.differences },
    psql: [
      `AETHERLENS_EMBEDDED_DIR=${options.dataDir} npx aetherlens-db local serve`,
      // local serve makes the password on its first start and keeps it in the data directory (0600).
      `PGPASSWORD="$(cat '${embeddedPaths(options.dataDir).password.replace(/'/g, `'\\''`)}')" psql "postgres://postgres@127.0.0.1:${DEFAULT_SERVE_PORT}/${prepared.database}?sslmode=disable"`,
    ],
  };
}
