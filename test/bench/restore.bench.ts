/**
 * Restore benchmarks (issue 5). Standalone:
 *
 *     npx tsx test/bench/restore.bench.ts                      # the full run (~1 GB, several minutes)
 *     BENCH_RESTORE_ROWS=500000 npx tsx test/bench/restore.bench.ts   # a quick run
 *
 * Measures, on one throwaway native cluster (PostgreSQL 15 + TimescaleDB, fsync off like every
 * test cluster here) and one dump taken with the project's own backup():
 *   1. the restore drill (`verify`: sha256, restore, fingerprint, checks, drop) against a plain
 *      restore of the same dump in the same run (CREATE DATABASE, CREATE EXTENSION,
 *      timescaledb_pre_restore(), pg_restore on one job, timescaledb_post_restore()); goal ≤ 1.3×;
 *   2. the RTO (restore time) of the whole dataset, ~1 GB on disk by default;
 *   3. the two-phase restore (schema, catalog rows, table rows with -j 2, indexes with -j 2)
 *      against the single-job one, and whether its fingerprint still matches.
 * Each restore runs twice, alternating, and the faster run counts (the first pays for cold caches).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backup, drill, openTarget, seed, migrate, silentLogger, type DrillReport, type RestoreMode } from '../../ops/lib/index.js';
import { libpqEnv } from '../../ops/lib/connection.js';
import { withClient } from '../../ops/lib/pg.js';
import { run } from '../../ops/lib/run.js';
import { PG_BIN, startNativeCluster, type NativeCluster } from '../support/nativeCluster.js';

export interface BenchRow {
  figure: string;
  ours: number | string;
  baseline: number | string | null;
  ratio: number | null;
}

export interface RestoreBenchContext {
  /** Progress lines; default: stderr. */
  log?: (line: string) => void;
  /** Rows of 1-minute metrics to generate (50 devices); default 6,480,000 (90 days, ~1 GB). */
  rows?: number;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** 50 devices (from the seed), then `rows` 1-minute readings spread over them, ending 2 days ago. */
async function buildDataset(cluster: NativeCluster, rows: number, log: (l: string) => void): Promise<number> {
  await migrate({ connection: cluster.info, to: 3 });
  await seed(cluster.info, { devices: 50, days: 1, interval: '1h', seed: 42, adminPassword: 'bench-admin-password-1234' }, silentLogger);
  const minutes = Math.ceil(rows / 50);
  const started = performance.now();
  await withClient(cluster.info, async (client) => {
    await client.query(`
      INSERT INTO metrics (time, device_id, power_w, energy_wh, voltage_v, current_a, power_factor, frequency_hz, temperature_c, state)
      SELECT t, d.device_id, p.w, p.w / 60, 228 + random() * 4, p.w / 230, 0.9 + random() * 0.1, 49.98 + random() * 0.04, 15 + random() * 15,
             (ARRAY['on', 'standby', 'idle'])[1 + (extract(minute FROM t)::int % 3)]
        FROM (SELECT device_id FROM devices ORDER BY device_id LIMIT 50) d
       CROSS JOIN generate_series(date_trunc('minute', now()) - interval '2 days' - $1 * interval '1 minute',
                                  date_trunc('minute', now()) - interval '2 days' - interval '1 minute', interval '1 minute') t
       CROSS JOIN LATERAL (SELECT round((random() * 800 + extract(hour FROM t))::numeric, 1)::float8 AS w) p`, [minutes]);
    await client.query('VACUUM ANALYZE metrics');
  });
  const bytes = await withClient(cluster.info, async (c) => Number((await c.query<{ b: string }>(`SELECT pg_database_size(current_database())::text AS b`)).rows[0]!.b));
  log(`dataset: ${(minutes * 50).toLocaleString('en-US')} metrics rows, database ${(bytes / 1e9).toFixed(2)} GB, generated in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return bytes;
}

/** The baseline: the minimum a correct TimescaleDB restore does, with nothing checked. */
async function plainRestore(cluster: NativeCluster, dumpPath: string, name: string): Promise<number> {
  const started = performance.now();
  await withClient(cluster.info, (c) => c.query(`CREATE DATABASE ${name} TEMPLATE template0`), 'postgres');
  await withClient(cluster.info, async (c) => {
    await c.query('CREATE EXTENSION timescaledb');
    await c.query('SELECT timescaledb_pre_restore()');
  }, name);
  const result = await run(join(PG_BIN, 'pg_restore'), ['--exit-on-error', `--dbname=${name}`, dumpPath], { env: libpqEnv(cluster.info, name) });
  if (result.exitCode !== 0) throw new Error(`pg_restore failed: ${result.stderr}`);
  await withClient(cluster.info, (c) => c.query('SELECT timescaledb_post_restore()'), name);
  const seconds = (performance.now() - started) / 1000;
  await withClient(cluster.info, (c) => c.query(`DROP DATABASE ${name} WITH (FORCE)`), 'postgres');
  return seconds;
}

async function drillOnce(cluster: NativeCluster, dir: string, id: string, mode: RestoreMode): Promise<DrillReport> {
  const report = await drill({ target: { kind: 'server', connection: cluster.info }, backupDir: dir, backup: id, pgBinDir: PG_BIN, mode, record: false });
  if (!report.ok) throw new Error(`the ${mode} drill failed: ${report.differences.slice(0, 3).join('; ')}`);
  return report;
}

/** Runs the restore benchmarks and returns one row per figure. */
export async function benchRestore(ctx: RestoreBenchContext = {}): Promise<BenchRow[]> {
  const log = ctx.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const rows = ctx.rows ?? Number(process.env.BENCH_RESTORE_ROWS ?? 6_480_000);
  const cluster = await startNativeCluster();
  const dir = await mkdtemp(join(tmpdir(), 'aetherlens-restore-bench-'));
  try {
    const dbBytes = await buildDataset(cluster, rows, log);
    const target = await openTarget({ kind: 'server', connection: cluster.info }, { command: 'bench', pgBinDir: PG_BIN });
    const made = await backup({ target, dir });
    await target.close();
    log(`backup ${made.id}: ${(made.manifest.dump.bytes / 1e6).toFixed(0)} MB in ${made.manifest.durationSeconds.toFixed(1)} s`);

    const plain: number[] = [];
    const single: DrillReport[] = [];
    const twoPhase: DrillReport[] = [];
    for (let round_ = 1; round_ <= 2; round_++) {
      plain.push(await plainRestore(cluster, made.dumpPath, `bench_plain_${round_}`));
      single.push(await drillOnce(cluster, dir, made.id, 'single'));
      twoPhase.push(await drillOnce(cluster, dir, made.id, 'two-phase'));
      log(`round ${round_}: plain pg_restore ${plain.at(-1)!.toFixed(1)} s; drill ${single.at(-1)!.seconds.toFixed(1)} s (restore ${single.at(-1)!.rtoSeconds!.toFixed(1)} s); two-phase drill ${twoPhase.at(-1)!.seconds.toFixed(1)} s (restore ${twoPhase.at(-1)!.rtoSeconds!.toFixed(1)} s: ${twoPhase.at(-1)!.phases.map((p) => `${p.name} ${p.seconds.toFixed(1)}`).join(', ')})`);
    }
    const best = <T>(xs: T[], key: (x: T) => number) => xs.reduce((a, b) => (key(b) < key(a) ? b : a));
    const plainBest = Math.min(...plain);
    const drillBest = best(single, (r) => r.seconds);
    const twoBest = best(twoPhase, (r) => r.rtoSeconds!);
    const singleRestoreBest = Math.min(...single.map((r) => r.rtoSeconds!));
    const gb = dbBytes / 1e9;
    return [
      { figure: 'restore drill (verify) vs plain pg_restore, seconds (goal ≤ 1.3×)', ours: round(drillBest.seconds), baseline: round(plainBest), ratio: round(drillBest.seconds / plainBest) },
      { figure: `RTO: restore of ${gb.toFixed(2)} GB (${(made.manifest.dump.bytes / 1e6).toFixed(0)} MB dump), seconds`, ours: round(singleRestoreBest), baseline: round(plainBest), ratio: round(singleRestoreBest / plainBest) },
      { figure: 'two-phase restore (-j 2 for rows and indexes) vs single job, seconds', ours: round(twoBest.rtoSeconds!), baseline: round(singleRestoreBest), ratio: round(twoBest.rtoSeconds! / singleRestoreBest) },
      { figure: 'two-phase restore: fingerprint matches the backup', ours: twoPhase.every((r) => r.ok) ? 'yes' : 'no', baseline: null, ratio: null },
    ];
  } finally {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

// Standalone: print the rows as a table.
if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await benchRestore();
  console.table(rows);
}
