/**
 * Backup benchmarks (issue 4). Part of `npm run bench`: test/bench/run.ts calls benchBackup with
 * its context, and the figures are taken on the runner's native server and dataset (at full scale
 * the 6.48 M rows of the project's generator). Standalone, on a throwaway cluster with the
 * real schema, seeded devices and `BENCH_BACKUP_ROWS` random 1-minute readings of its own:
 *
 *     npx tsx test/bench/backup.bench.ts                               # 6.48 M rows, minutes
 *     BENCH_BACKUP_ROWS=500000 npx tsx test/bench/backup.bench.ts      # a quick run
 *
 * On PostgreSQL 15 + TimescaleDB (the Apache edition here, so no compressed chunks):
 *   1. the full backup (backup(): dump + fingerprint + sha256 + manifest, fsynced) against a
 *      default `pg_dump -Fc` of the same database in the same run; goals ≤ 0.6× the time at
 *      ≤ 1.15× the size;
 *   2. pg_dump's compression levels (0, 1, 3, default), which chose DUMP_COMPRESSION_LEVEL;
 *   3. the fingerprint and the sha256 on their own.
 * Every figure is measured twice, alternating, and the faster run counts (the first pays for
 * cold caches). Nothing is written to the database measured.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backup, DUMP_COMPRESSION_LEVEL, hashFile, migrate, pgSqlClient, seed, silentLogger, takeFingerprint, withTarget, type ConnectionInfo, type Target } from '../../ops/lib/index.js';
import { libpqEnv } from '../../ops/lib/connection.js';
import { withClient } from '../../ops/lib/pg.js';
import { run } from '../../ops/lib/run.js';
import { PG_BIN, startNativeCluster } from '../support/nativeCluster.js';
import type { BenchContext, BenchDataset, ExternalRow } from './context.js';
import { serverTargetOf } from '../support/targets.js';

/** A row in the shape the runner accepts from this bench and the restore bench. */
export type BenchRow = ExternalRow;

/**
 * What the backup and restore benches read from the runner's context (test/bench/context.ts).
 * With `connection` they measure that server and its dataset; without, a cluster of their own.
 */
export type BenchInput = Partial<Pick<BenchContext, 'log' | 'connection' | 'cluster' | 'dataset' | 'tmpDir' | 'scale'>>;

/** The server a bench measures and what its database holds. */
export interface BenchServer {
  info: ConnectionInfo;
  pgBin: string;
  /** The dataset, for the progress lines. */
  dataset: string;
  /** Stops the bench's own cluster; the runner's server is the runner's to stop. */
  stop: () => Promise<void>;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const mb = (bytes: number) => round(bytes / 1e6, 1);
const stderrLine = (line: string) => process.stderr.write(`${line}\n`);

/** The real schema, 50 seeded devices, then `rows` random 1-minute readings spread over them. */
async function buildDataset(info: ConnectionInfo, rows: number, log: (l: string) => void): Promise<string> {
  await migrate({ target: await serverTargetOf(info), to: 3 });
  await seed(await serverTargetOf(info), { devices: 50, days: 1, interval: '1h', seed: 42, adminPassword: 'bench-admin-password-1234' }, silentLogger);
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
    await client.query('VACUUM ANALYZE');
  });
  const made = (minutes * 50).toLocaleString('en-US');
  log(`generated ${made} metrics rows in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return `${made} random 1-minute metrics rows over 50 seeded devices (generate_series)`;
}

/** "6,480,000 metrics rows (50 devices × 90 days, every 1 min) + 95,084 cost rows of the project's generator". */
function describeDataset(d: BenchDataset | undefined): string {
  if (!d) return 'the database given';
  return `${d.rows.toLocaleString('en-US')} metrics rows (${d.devices} devices × ${d.days} days, every ${d.intervalSeconds / 60} min) + ${d.costRows.toLocaleString('en-US')} cost rows of the project's generator`;
}

/**
 * The runner's server and dataset when the context has a connection; otherwise a throwaway
 * cluster with `rows` generated readings (standalone runs).
 */
export async function benchServer(ctx: BenchInput, rows: number, log: (l: string) => void): Promise<BenchServer> {
  if (ctx.connection) return { info: ctx.connection, pgBin: ctx.cluster?.pgBin ?? PG_BIN, dataset: describeDataset(ctx.dataset), stop: async () => {} };
  const cluster = await startNativeCluster();
  try {
    return { info: cluster.info, pgBin: PG_BIN, dataset: await buildDataset(cluster.info, rows, log), stop: () => cluster.stop() };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

export async function databaseBytes(info: ConnectionInfo): Promise<number> {
  return withClient(info, async (c) => Number((await c.query<{ b: string }>(`SELECT pg_database_size(current_database())::text AS b`)).rows[0]!.b));
}

interface Timed {
  seconds: number;
  bytes: number;
}

const best = (xs: Timed[]) => xs.reduce((a, b) => (b.seconds < a.seconds ? b : a));

/** A plain `pg_dump -Fc` (level undefined: pg_dump's default gzip level) into `file`. */
async function plainDump(server: BenchServer, file: string, level?: number): Promise<Timed> {
  const started = performance.now();
  const args = ['--format=custom', `--file=${file}`, ...(level === undefined ? [] : [`--compress=${level}`])];
  const result = await run(join(server.pgBin, 'pg_dump'), args, { env: libpqEnv(server.info) });
  if (result.exitCode !== 0) throw new Error(`pg_dump failed: ${result.stderr}`);
  const seconds = (performance.now() - started) / 1000;
  const bytes = (await stat(file)).size;
  await rm(file);
  return { seconds, bytes };
}

/** Two rounds of a default pg_dump -Fc then backup(), alternating; the backups stay in `work`. */
async function againstPgDump(server: BenchServer, target: Target, work: string, log: (l: string) => void): Promise<{ plain: Timed[]; ours: Timed[]; lastDump: string }> {
  const plain: Timed[] = [];
  const ours: Timed[] = [];
  let lastDump = '';
  for (let i = 1; i <= 2; i++) {
    plain.push(await plainDump(server, join(work, 'plain.dump')));
    const started = performance.now();
    const made = await backup({ target, dir: join(work, `ours-${i}`) });
    ours.push({ seconds: (performance.now() - started) / 1000, bytes: made.manifest.dump.bytes });
    lastDump = made.dumpPath;
    const t = made.manifest.timings;
    log(`round ${i}: pg_dump -Fc ${plain.at(-1)!.seconds.toFixed(1)} s ${mb(plain.at(-1)!.bytes)} MB; backup ${ours.at(-1)!.seconds.toFixed(1)} s ${mb(made.manifest.dump.bytes)} MB (dump ${t.dump.toFixed(1)} s, fingerprint ${t.fingerprint.toFixed(1)} s alongside, sha256 ${t.checksum.toFixed(1)} s)`);
  }
  return { plain, ours, lastDump };
}

/** pg_dump -Fc at levels 0, 1 and 3, the faster of two runs each. */
async function compressionLevels(server: BenchServer, work: string, log: (l: string) => void): Promise<Record<number, Timed>> {
  const levels: Record<number, Timed> = {};
  for (const level of [0, 1, 3]) {
    levels[level] = best([await plainDump(server, join(work, 'z.dump'), level), await plainDump(server, join(work, 'z.dump'), level)]);
    log(`pg_dump -Fc -Z${level}: ${levels[level]!.seconds.toFixed(1)} s, ${mb(levels[level]!.bytes)} MB`);
  }
  return levels;
}

/** The fingerprint alone, in its own read-only transaction. */
async function fingerprintSeconds(info: ConnectionInfo): Promise<number> {
  return withClient(info, async (c) => {
    const started = performance.now();
    await takeFingerprint(pgSqlClient(c));
    return (performance.now() - started) / 1000;
  });
}

async function sha256Seconds(file: string): Promise<number> {
  const started = performance.now();
  await hashFile(file);
  return (performance.now() - started) / 1000;
}

/** Runs the backup benchmarks and returns one row per figure. */
export async function benchBackup(ctx: BenchInput = {}): Promise<BenchRow[]> {
  const log = ctx.log ?? stderrLine;
  const server = await benchServer(ctx, Number(process.env.BENCH_BACKUP_ROWS ?? 6_480_000), log);
  const work = await mkdtemp(join(ctx.tmpDir ?? tmpdir(), 'aetherlens-backup-bench-'));
  try {
    log(`dataset: ${server.dataset}; database ${mb(await databaseBytes(server.info))} MB`);
    const { plain, ours, lastDump } = await withTarget({ kind: 'server', connection: server.info }, 'bench', (target) => againstPgDump(server, target, work, log), { pgBinDir: server.pgBin });
    const levels = await compressionLevels(server, work, log);
    const fingerprint = await fingerprintSeconds(server.info);
    const sha = await sha256Seconds(lastDump);

    const [p, o] = [best(plain), best(ours)];
    const row = (figure: string, mine: number, base: number): BenchRow => ({ figure, ours: round(mine), baseline: round(base), ratio: round(mine / base) });
    return [
      row('full backup (dump + fingerprint + sha256) vs pg_dump -Fc, seconds (goal ≤ 0.6×)', o.seconds, p.seconds),
      // Each round's backup against that round's pg_dump: the worse ratio, for noisy machines.
      ((worst) => row('full backup vs pg_dump -Fc, the slower round, seconds', ours[worst]!.seconds, plain[worst]!.seconds))(ours[0]!.seconds / plain[0]!.seconds > ours[1]!.seconds / plain[1]!.seconds ? 0 : 1),
      row('full backup vs pg_dump -Fc, MB (goal ≤ 1.15×)', mb(o.bytes), mb(p.bytes)),
      ...[0, 1, 3].map((level) => row(`pg_dump -Fc -Z${level}${level === DUMP_COMPRESSION_LEVEL ? ' (chosen)' : ''} vs default level, seconds`, levels[level]!.seconds, p.seconds)),
      ...[0, 1, 3].map((level) => row(`pg_dump -Fc -Z${level} vs default level, MB`, mb(levels[level]!.bytes), mb(p.bytes))),
      row('fingerprint alone vs pg_dump -Fc, seconds', fingerprint, p.seconds),
      row('sha256 of the dump vs pg_dump -Fc, seconds', sha, p.seconds),
    ];
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}

// Standalone: print the rows as a table.
if (import.meta.url === `file://${process.argv[1]}`) {
  console.table(await benchBackup());
}
