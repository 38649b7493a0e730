/**
 * Figure 1: an empty database to the migration head, in seconds.
 * Ours: the library's migrate() (edition and drift checks, parsing every file, the advisory lock,
 * the ledger, one transaction per file). Baseline: `psql -X -1 -v ON_ERROR_STOP=1 -f 001 … -f 00N`
 * on the same files: one session, one transaction, no checks and no ledger.
 * The head is the real one (006) on the community edition; on an Apache-edition server it is the
 * last file before the first one that requires the community edition.
 */
import { join } from 'node:path';
import { loadMigrations, migrate, type ConnectionInfo, type Target } from '../../ops/lib/index.js';
import { serverTargetOf } from '../support/targets.js';
import { libpqEnv } from '../../ops/lib/connection.js';
import { run } from '../../ops/lib/run.js';
import { percentile } from './stats.js';

export interface MigrateTiming {
  /** Median seconds, and the first (cold: parser and modules loaded) run. */
  oursSeconds: number;
  oursColdSeconds: number;
  baselineSeconds: number;
  head: number;
  files: number;
  runs: number;
}

/** Migration files this edition can apply, in order: all of them, or those before the first community one. */
export async function applicableMigrations(community: boolean) {
  const files = await loadMigrations();
  const firstCommunity = files.findIndex((f) => f.requiresCommunity);
  return community || firstCommunity === -1 ? files : files.slice(0, firstCommunity);
}

/** Applies the files with psql in one transaction; throws with psql's first error line. */
export async function psqlApply(pgBin: string, connection: ConnectionInfo, paths: readonly string[]): Promise<number> {
  const started = performance.now();
  const args = ['-X', '-q', '-w', '-1', '-v', 'ON_ERROR_STOP=1', ...paths.flatMap((p) => ['-f', p])];
  // The embedded engine asks for a password and takes any; -w: never wait on a prompt.
  const env = { ...libpqEnv(connection), ...(connection.password === undefined ? { PGPASSWORD: 'embedded' } : {}) };
  const result = await run(join(pgBin, 'psql'), args, { env, timeoutMs: 300_000 });
  if (result.exitCode !== 0) throw new Error(`psql failed (${result.exitCode}): ${result.stderr.trim().split('\n')[0]}`);
  return (performance.now() - started) / 1000;
}

/** Runs migrate() once; seconds. */
export async function runnerApply(target: Target, to: number): Promise<number> {
  const started = performance.now();
  await migrate({ target, to });
  return (performance.now() - started) / 1000;
}

/**
 * Native server: `runs` rounds, each migrating one fresh database with the runner and another with
 * psql (alternating, so both see the same machine), as far as the server's edition allows.
 * Databases are dropped afterwards.
 */
export async function benchMigrateNative(pgBin: string, admin: ConnectionInfo, community: boolean, createDb: (name: string) => Promise<void>, dropDb: (name: string) => Promise<void>, runs: number): Promise<MigrateTiming> {
  const files = await applicableMigrations(community);
  const head = files[files.length - 1]!.version;
  const ours: number[] = [];
  const baseline: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const kind of ['runner', 'psql'] as const) {
      const name = `bench_migrate_${kind}_${i}`;
      await createDb(name);
      const connection = { ...admin, database: name };
      if (kind === 'runner') ours.push(await runnerApply(await serverTargetOf(connection), head));
      else baseline.push(await psqlApply(pgBin, connection, files.map((f) => f.path)));
      await dropDb(name);
    }
  }
  const cold = ours[0]!;
  ours.sort((a, b) => a - b);
  baseline.sort((a, b) => a - b);
  return { oursSeconds: percentile(ours, 50), oursColdSeconds: cold, baselineSeconds: percentile(baseline, 50), head, files: files.length, runs };
}
