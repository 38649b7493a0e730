/**
 * Restore benchmarks (issue 5). Part of `npm run bench` (test/bench/run.ts calls benchRestore with
 * its context: the benchmark dataset on its server). Standalone, with a cluster and data of its own:
 *
 *     npx tsx test/bench/restore.bench.ts                              # ~1 GB, 10+ minutes
 *     BENCH_RESTORE_ROWS=500000 BENCH_RESTORE_ROUNDS=2 npx tsx test/bench/restore.bench.ts   # quick
 *
 * Measures, with one dump taken by the project's own backup():
 *   1. the restore drill (`verify`: sha256, two-phase restore, fingerprint and the other checks,
 *      drop) against a plain restore of the same dump in the same run (CREATE DATABASE, CREATE
 *      EXTENSION, timescaledb_pre_restore(), pg_restore on one job, timescaledb_post_restore());
 *      goal ≤ 1.3×;
 *   2. the RTO (restore time) of the whole dataset, and per GB;
 *   3. the two-phase restore (schema, catalog rows on one job, table rows and indexes with -j 2)
 *      against the single-job one, and whether its fingerprint still matches.
 * The variants run interleaved for BENCH_RESTORE_ROUNDS rounds (default 3; 2 at BENCH_SCALE=small)
 * and the best run of each counts: on a shared machine, other work only ever adds time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backup, drill, openTarget, seed, migrate, silentLogger, type ConnectionInfo, type DrillReport, type RestoreMode } from '../../ops/lib/index.js';
import { libpqEnv } from '../../ops/lib/connection.js';
import { withClient } from '../../ops/lib/pg.js';
import { run } from '../../ops/lib/run.js';
import { PG_BIN, startNativeCluster, type NativeCluster } from '../support/nativeCluster.js';

// The row shape both benches return to the runner: one definition, in the backup bench.
export type { BenchRow } from './backup.bench.js';
import type { BenchRow } from './backup.bench.js';

/**
 * What benchRestore reads from the runner's context (test/bench/context.ts): with `connection`
 * it restores the runner's benchmark dataset on the runner's server; without, it builds its own
 * cluster and `rows` rows (BENCH_RESTORE_ROWS, default 4,700,000 ≈ 1 GB with indexes).
 */
export interface RestoreBenchContext {
  log?: (line: string) => void;
  rows?: number;
  connection?: ConnectionInfo;
  cluster?: { pgBin: string };
  tmpDir?: string;
  scale?: 'full' | 'small';
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/** 50 devices (from the seed), then `rows` 1-minute readings spread over them, ending 2 days ago. */
async function buildDataset(info: ConnectionInfo, rows: number, log: (l: string) => void): Promise<void> {
  await migrate({ connection: info, to: 3 });
  await seed(info, { devices: 50, days: 1, interval: '1h', seed: 42, adminPassword: 'bench-admin-password-1234' }, silentLogger);
  const minutes = Math.ceil(rows / 50);
  const started = performance.now();
  await withClient(info, async (client) => {
    await client.query(`
      INSERT INTO metrics (time, device_id, power_deciwatts, energy_milliwatt_hours, voltage_decivolts, current_milliamps, power_factor_percent, frequency_centihertz, temperature_decicelsius, state)
      SELECT t, d.device_id, p.dw, p.dw * 100 / 60, 2280 + (random() * 40)::int, p.dw * 100 / 230, 90 + (random() * 10)::int, 4998 + (random() * 4)::int, 150 + (random() * 150)::int,
             (ARRAY['on', 'standby', 'idle'])[1 + (extract(minute FROM t)::int % 3)]
        FROM (SELECT device_id FROM devices ORDER BY device_id LIMIT 50) d
       CROSS JOIN generate_series(date_trunc('minute', now()) - interval '2 days' - $1 * interval '1 minute',
                                  date_trunc('minute', now()) - interval '2 days' - interval '1 minute', interval '1 minute') t
       CROSS JOIN LATERAL (SELECT round((random() * 800 + extract(hour FROM t)) * 10)::int AS dw) p`, [minutes]);
    await client.query('VACUUM ANALYZE metrics');
  });
  log(`generated ${(minutes * 50).toLocaleString('en-US')} metrics rows in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/** The baseline: the minimum a correct TimescaleDB restore does, with nothing checked. */
async function plainRestore(info: ConnectionInfo, pgBin: string, dumpPath: string, name: string): Promise<number> {
  const started = performance.now();
  await withClient(info, (c) => c.query(`CREATE DATABASE ${name} TEMPLATE template0`), 'postgres');
  await withClient(info, async (c) => {
    await c.query('CREATE EXTENSION timescaledb');
    await c.query('SELECT timescaledb_pre_restore()');
  }, name);
  const result = await run(join(pgBin, 'pg_restore'), ['--exit-on-error', `--dbname=${name}`, dumpPath], { env: libpqEnv(info, name) });
  if (result.exitCode !== 0) throw new Error(`pg_restore failed: ${result.stderr}`);
  await withClient(info, (c) => c.query('SELECT timescaledb_post_restore()'), name);
  const seconds = (performance.now() - started) / 1000;
  await withClient(info, (c) => c.query(`DROP DATABASE ${name} WITH (FORCE)`), 'postgres');
  return seconds;
}

async function drillOnce(info: ConnectionInfo, pgBin: string, dir: string, id: string, mode: RestoreMode): Promise<DrillReport> {
  const report = await drill({ target: { kind: 'server', connection: info }, backupDir: dir, backup: id, pgBinDir: pgBin, mode, record: false });
  if (!report.ok) throw new Error(`the ${mode} drill failed: ${report.differences.slice(0, 3).join('; ')}`);
  return report;
}

/** Runs the restore benchmarks and returns one row per figure. */
export async function benchRestore(ctx: RestoreBenchContext = {}): Promise<BenchRow[]> {
  const log = ctx.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const rounds = Number(process.env.BENCH_RESTORE_ROUNDS ?? (ctx.scale === 'small' ? 2 : 3));
  let cluster: NativeCluster | undefined;
  let info: ConnectionInfo;
  let pgBin: string;
  if (ctx.connection) {
    info = ctx.connection;
    pgBin = ctx.cluster?.pgBin ?? PG_BIN;
  } else {
    cluster = await startNativeCluster();
    info = cluster.info;
    pgBin = PG_BIN;
    await buildDataset(info, ctx.rows ?? Number(process.env.BENCH_RESTORE_ROWS ?? 4_700_000), log);
  }
  const dir = await mkdtemp(join(ctx.tmpDir ?? tmpdir(), 'aetherlens-restore-bench-'));
  try {
    const dbBytes = await withClient(info, async (c) => Number((await c.query<{ b: string }>(`SELECT pg_database_size(current_database())::text AS b`)).rows[0]!.b));
    const target = await openTarget({ kind: 'server', connection: info }, { command: 'bench', pgBinDir: pgBin });
    const made = await backup({ target, dir });
    await target.close();
    log(`database ${(dbBytes / 1e9).toFixed(2)} GB; backup ${made.id}: ${(made.manifest.dump.bytes / 1e6).toFixed(0)} MB in ${made.manifest.durationSeconds.toFixed(1)} s`);

    const plain: number[] = [];
    const single: DrillReport[] = [];
    const twoPhase: DrillReport[] = [];
    // Interleaved, so a busy moment on a shared machine hits every variant alike.
    for (let n = 1; n <= rounds; n++) {
      plain.push(await plainRestore(info, pgBin, made.dumpPath, `bench_plain_${n}`));
      twoPhase.push(await drillOnce(info, pgBin, dir, made.id, 'two-phase'));
      single.push(await drillOnce(info, pgBin, dir, made.id, 'single'));
      const t = twoPhase.at(-1)!;
      log(`round ${n}: plain pg_restore ${plain.at(-1)!.toFixed(1)} s; drill ${t.seconds.toFixed(1)} s (two-phase restore ${t.rtoSeconds!.toFixed(1)} s: ${t.phases.map((p) => `${p.name} ${p.seconds.toFixed(1)}`).join(', ')}); single-job drill ${single.at(-1)!.seconds.toFixed(1)} s (restore ${single.at(-1)!.rtoSeconds!.toFixed(1)} s)`);
    }
    const plainBest = Math.min(...plain);
    const drillBest = Math.min(...twoPhase.map((r) => r.seconds));
    const twoBest = Math.min(...twoPhase.map((r) => r.rtoSeconds!));
    const singleBest = Math.min(...single.map((r) => r.rtoSeconds!));
    const perRound = (f: (i: number) => number) => round(median(plain.map((_, i) => f(i))));
    const gb = dbBytes / 1e9;
    log(`per-round ratios (median of ${rounds}): drill/plain ${perRound((i) => twoPhase[i]!.seconds / plain[i]!)}, two-phase/single ${perRound((i) => twoPhase[i]!.rtoSeconds! / single[i]!.rtoSeconds!)}`);
    return [
      { figure: `restore drill (verify, two-phase) vs plain pg_restore of the same dump, s (goal ≤ 1.3×; best of ${rounds})`, ours: round(drillBest), baseline: round(plainBest), ratio: round(drillBest / plainBest) },
      { figure: `RTO: restore of ${gb.toFixed(2)} GB (${(made.manifest.dump.bytes / 1e6).toFixed(0)} MB dump), s`, ours: round(twoBest), baseline: round(plainBest), ratio: round(twoBest / plainBest) },
      { figure: 'RTO per GB of database, s', ours: round(twoBest / gb), baseline: round(plainBest / gb), ratio: round(twoBest / plainBest) },
      { figure: 'two-phase restore (catalog on one job, rows and indexes -j 2) vs single job, s', ours: round(twoBest), baseline: round(singleBest), ratio: round(twoBest / singleBest) },
      { figure: 'two-phase restore: fingerprint matches the backup (every round)', ours: twoPhase.every((r) => r.ok) ? 'yes' : 'no', baseline: null, ratio: null },
    ];
  } finally {
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

// Standalone: print the rows as a table.
if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await benchRestore();
  console.table(rows);
}
