/**
 * Restore benchmarks (issue 5). Part of `npm run bench`: test/bench/run.ts calls benchRestore with
 * its context, and the figures are taken on the runner's native server and dataset (at full scale
 * the issue's 6.48 M rows of the project's generator). Standalone, on a throwaway cluster with
 * `BENCH_RESTORE_ROWS` random readings of its own:
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
 * and the best run of each counts: on a shared machine, other work only ever adds time. Every
 * restore goes into a scratch database that is dropped again; the dataset's database is only read.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backup, drill, withTarget, type ConnectionInfo, type DrillReport, type RestoreMode } from '../../ops/lib/index.js';
import { libpqEnv } from '../../ops/lib/connection.js';
import { quoteIdent, withClient } from '../../ops/lib/pg.js';
import { run } from '../../ops/lib/run.js';
import { benchServer, databaseBytes, type BenchInput } from './backup.bench.js';

// The row shape both benches return to the runner: one definition, in the backup bench.
export type { BenchRow } from './backup.bench.js';
import type { BenchRow } from './backup.bench.js';
import { serverTargetOf } from '../support/targets.js';

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/** The baseline: the minimum a correct TimescaleDB restore does, with nothing checked; `name` is dropped again. */
async function plainRestore(info: ConnectionInfo, pgBin: string, dumpPath: string, name: string): Promise<number> {
  const started = performance.now();
  await withClient(info, (c) => c.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0`), 'postgres');
  try {
    await withClient(info, async (c) => {
      await c.query('CREATE EXTENSION timescaledb');
      await c.query('SELECT timescaledb_pre_restore()');
    }, name);
    const result = await run(join(pgBin, 'pg_restore'), ['--exit-on-error', `--dbname=${name}`, dumpPath], { env: libpqEnv(info, name) });
    if (result.exitCode !== 0) throw new Error(`pg_restore failed: ${result.stderr}`);
    await withClient(info, (c) => c.query('SELECT timescaledb_post_restore()'), name);
    return (performance.now() - started) / 1000;
  } finally {
    await withClient(info, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`), 'postgres');
  }
}

/** One drill (it restores into a scratch database and drops it, also on failure), not recorded in the manifest. */
async function drillOnce(info: ConnectionInfo, pgBin: string, dir: string, id: string, mode: RestoreMode): Promise<DrillReport> {
  const report = await drill({ target: await serverTargetOf(info, pgBin), backupDir: dir, backup: id, mode, record: false });
  if (!report.ok) throw new Error(`the ${mode} drill failed: ${report.differences.slice(0, 3).join('; ')}`);
  return report;
}

interface Rounds {
  plain: number[];
  twoPhase: DrillReport[];
  single: DrillReport[];
}

/** Plain restore, two-phase drill and single-job drill of one backup, `rounds` times. */
async function interleavedRounds(info: ConnectionInfo, pgBin: string, dir: string, made: { id: string; dumpPath: string }, rounds: number, log: (l: string) => void): Promise<Rounds> {
  const r: Rounds = { plain: [], twoPhase: [], single: [] };
  // Interleaved, so a busy moment on a shared machine hits every variant alike.
  for (let n = 1; n <= rounds; n++) {
    r.plain.push(await plainRestore(info, pgBin, made.dumpPath, `bench_plain_${n}`));
    r.twoPhase.push(await drillOnce(info, pgBin, dir, made.id, 'two-phase'));
    r.single.push(await drillOnce(info, pgBin, dir, made.id, 'single'));
    const t = r.twoPhase.at(-1)!;
    log(`round ${n}: plain pg_restore ${r.plain.at(-1)!.toFixed(1)} s; drill ${t.seconds.toFixed(1)} s (two-phase restore ${t.rtoSeconds!.toFixed(1)} s: ${t.phases.map((p) => `${p.name} ${p.seconds.toFixed(1)}`).join(', ')}); single-job drill ${r.single.at(-1)!.seconds.toFixed(1)} s (restore ${r.single.at(-1)!.rtoSeconds!.toFixed(1)} s)`);
  }
  return r;
}

/** Runs the restore benchmarks and returns one row per figure. */
export async function benchRestore(ctx: BenchInput = {}): Promise<BenchRow[]> {
  const log = ctx.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const rounds = Number(process.env.BENCH_RESTORE_ROUNDS ?? (ctx.scale === 'small' ? 2 : 3));
  // Standalone default: ~1 GB with indexes.
  const server = await benchServer(ctx, Number(process.env.BENCH_RESTORE_ROWS ?? 4_700_000), log);
  const dir = await mkdtemp(join(ctx.tmpDir ?? tmpdir(), 'aetherlens-restore-bench-'));
  try {
    const { info, pgBin } = server;
    const dbBytes = await databaseBytes(info);
    const made = await withTarget({ kind: 'server', connection: info }, 'bench', (target) => backup({ target, dir }), { pgBinDir: pgBin });
    log(`dataset: ${server.dataset}; database ${(dbBytes / 1e9).toFixed(2)} GB; backup ${made.id}: ${(made.manifest.dump.bytes / 1e6).toFixed(0)} MB in ${made.manifest.durationSeconds.toFixed(1)} s`);

    const { plain, twoPhase, single } = await interleavedRounds(info, pgBin, dir, made, rounds, log);
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
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

// Standalone: print the rows as a table.
if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await benchRestore();
  console.table(rows);
}
