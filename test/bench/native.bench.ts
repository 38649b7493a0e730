/**
 * The native server: PostgreSQL 15 + whatever TimescaleDB scripts/install-timescaledb.sh put
 * beside it (its versions and edition are read from the server and named in the header and the
 * rows), started with the settings the Pulumi stack gives a 512 MB / 1 CPU container
 * (infra/tuning.ts). It holds the issue's dataset. Migrate, ingest, query latency and memory are
 * measured here; on the community edition (production's) also the continuous aggregates (the
 * aggregate form of each question against its raw form) and compression by the policy, run the
 * way the scheduler would run them. Then the backup and restore benches run against it.
 */
import { rm } from 'node:fs/promises';
import { tuningFor } from '../../infra/tuning.js';
import { migrate, type Logger } from '../../ops/lib/index.js';
import { connect, quoteIdent, withClient } from '../../ops/lib/pg.js';
import { PG_BIN, startNativeCluster } from '../support/nativeCluster.js';
import { materializeAggregates } from './aggregates.js';
import { onInterrupt } from './cleanup.js';
import { compressByPolicy, compressionRows } from './compression.js';
import type { BenchContext, BenchRow } from './context.js';
import { copyFilePath, exportMetrics, plainCopy, schemaCopy, seedDataset } from './ingest.bench.js';
import { benchDevices, latencyRows, timeQueries } from './latency.js';
import { concurrentLoad } from './load.js';
import { postmasterPid, sampleServer, startSampling } from './memory.js';
import { benchMigrateNative } from './migrate.bench.js';
import { describeSize, type BenchScale } from './scale.js';
import { pauseCompression, resumeAndCount, schedulerRow } from './scheduler.js';
import { describeServer, editionName, readServer, timescaleLabel } from './server.js';
import { mb, perSecond, seconds, times } from './stats.js';
import { serverTargetOf } from '../support/targets.js';

/** The container the figures stand for. */
export const TUNING = { memoryMb: 512, cpus: 1 } as const;

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

/** The backup/restore benches, given the context (the runner gives each its own tmpDir and log). */
export type ExternalBenches = (ctx: Omit<BenchContext, 'tmpDir' | 'log'>) => Promise<BenchRow[]>;

/**
 * Runs the native phase; `onServer` gets the server's description (versions and edition) as soon
 * as it is read, so the header names it even when a later step fails.
 */
export async function benchNative(scale: BenchScale, tmpDir: string, logger: Logger, external: ExternalBenches, onServer: (description: string) => void): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const tuning = tuningFor(TUNING.memoryMb, TUNING.cpus);
  logger.info(`native: starting PostgreSQL 15 with tuningFor(${TUNING.memoryMb}, ${TUNING.cpus}): shared_buffers ${tuning.shared_buffers}, work_mem ${tuning.work_mem}, max_connections ${tuning.max_connections}`);
  const cluster = await startNativeCluster({ settings: { ...tuning } });
  const forget = onInterrupt(() => cluster.stop());
  try {
    const admin = { ...cluster.info, database: 'postgres' };
    const createDb = (name: string) => withClient(admin, (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`)).then(() => undefined);
    const dropDb = (name: string) => withClient(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`)).then(() => undefined);

    const serverTarget = await serverTargetOf(cluster.info);
    const server = await withClient(cluster.info, (c) => readServer(c, serverTarget));
    onServer(describeServer(server));
    const edition = timescaleLabel(server);
    logger.info(`native: ${describeServer(server)}`);

    logger.info('native: migrate, runner against psql, 3 rounds');
    const m = await benchMigrateNative(PG_BIN, cluster.info, server.community, createDb, dropDb, 3);
    const headName = String(m.head).padStart(3, '0');
    rows.push({
      figure: `migrate: empty → head ${headName} (native, ${edition})`,
      ours: seconds(m.oursSeconds),
      baseline: `${seconds(m.baselineSeconds)} psql`,
      ratio: `${times(m.oursSeconds / m.baselineSeconds)} psql's time`,
      target: 'goal ≤ 3 s',
      verdict: m.oursSeconds <= 3 ? 'met' : 'missed',
      note: `median of ${m.runs} fresh databases each (first runner call, modules cold: ${seconds(m.oursColdSeconds)}); ${m.files} files${server.community ? '' : `, the ${editionName(server)} edition stops before the first that needs the community edition`}; baseline: psql -X -1 -v ON_ERROR_STOP=1 -f 001 … -f ${headName}, one transaction, no checks, no ledger`,
    });

    const phaseStarted = new Date();
    await migrate({ target: await serverTargetOf(cluster.info), to: m.head });
    // The bench runs the compression policies itself, where their effect is measured (scheduler.ts).
    const paused = server.community ? await withClient(cluster.info, pauseCompression) : [];
    const size = scale.native;
    logger.info(`native: seeding ${size.devices} devices × ${size.days} days × ${size.interval}`);
    const end = new Date();
    // The load alone: the aggregates are materialized below, as their own figure.
    const { summary, seconds: seedSeconds } = await seedDataset(await serverTargetOf(cluster.info), size, end, logger, { refreshAggregates: false });
    const dataset = describeSize(size, summary.metricsRows);
    await withClient(cluster.info, (c) => c.query('VACUUM ANALYZE metrics, cost_calculations'));

    logger.info('native: plain COPY baseline');
    const file = copyFilePath(tmpDir);
    const bytes = await withClient(cluster.info, (c) => exportMetrics(c, file));
    const plainSeconds = await plainCopy(cluster.info, file);
    const ratio = summary.writtenRows / seedSeconds / (summary.writtenRows / plainSeconds);
    rows.push({
      figure: 'ingest: generator (seed) against plain COPY',
      ours: perSecond(summary.writtenRows, seedSeconds),
      baseline: perSecond(summary.writtenRows, plainSeconds),
      ratio: `${pct(ratio)} of plain COPY`,
      target: 'goal ≥ 70%',
      verdict: ratio >= 0.7 ? 'met' : 'missed',
      note: `native (${edition}), ${dataset} + ${summary.costRows.toLocaleString('en-US')} cost rows in ${seconds(seedSeconds)} (seed(), method ${summary.method} on ${summary.sessions} session${summary.sessions === 1 ? '' : 's'}${server.community ? '; the load alone, without the refresh of the continuous aggregates' : ''}); baseline: the same ${mb(bytes)} of COPY text from a file into CREATE TABLE … (LIKE metrics) (no index, check or foreign key), one transaction, ${seconds(plainSeconds)}`,
    });

    const side = { ...cluster.info, database: 'bench_ingest_schema' };
    await createDb(side.database);
    try {
      await migrate({ target: await serverTargetOf(side), to: m.head });
      const lines = Math.min(scale.schemaCopyRows, summary.writtenRows);
      const schemaSeconds = await schemaCopy(side, size, file, lines, logger);
      const schemaRate = lines / schemaSeconds;
      rows.push({
        figure: 'ingest diagnostic: plain COPY into the migrated metrics',
        ours: perSecond(lines, schemaSeconds),
        baseline: perSecond(summary.writtenRows, plainSeconds),
        ratio: `${pct(schemaRate / (summary.writtenRows / plainSeconds))} of plain COPY`,
        verdict: 'info',
        note: `the first ${lines.toLocaleString('en-US')} rows of the same file into metrics as migrated to ${headName} (hypertable, 3 indexes, checks, foreign key to devices${server.community ? ', continuous-aggregate invalidation' : ''}), one session: what one session of any loader can reach on this schema; the generator (${summary.sessions} session${summary.sessions === 1 ? '' : 's'}) reached ${pct(summary.writtenRows / seedSeconds / schemaRate)} of it`,
      });
    } finally {
      await dropDb(side.database);
      await rm(file, { force: true });
    }

    if (server.community) {
      const where = `native (${edition}), ${dataset}`;
      const ready = await materializeAggregates(cluster.info, summary.start, summary.end, logger, 'native');
      rows.push({
        figure: 'continuous aggregates: the seeded window materialized',
        ours: seconds(ready.windowSeconds),
        baseline: '—',
        ratio: '—',
        verdict: 'info',
        note: `${where}; refresh_continuous_aggregate over the whole window as seed() does (hourly before daily): ${Object.entries(ready.rows).map(([name, n]) => `${name} ${n.toLocaleString('en-US')} rows`).join(', ')}; then the ${ready.policies} refresh policies, one CALL run_job each: ${seconds(ready.policySeconds)}`,
      });
      rows.push(...compressionRows(await compressByPolicy(cluster.info, ['metrics', 'cost_calculations'], logger, 'native'), where));
      // Statistics for the compressed chunks and the aggregates' tables, as autovacuum would keep them.
      await withClient(cluster.info, (c) => c.query('ANALYZE'));
    }

    // A settled server: the load's WAL written out before the clocks start, not during the runs.
    await withClient(cluster.info, (c) => c.query('CHECKPOINT'));
    const postmaster = await postmasterPid(cluster.dataDir);
    const idle = await sampleServer(postmaster);
    const client = await connect(cluster.info);
    let devices: string[];
    try {
      // Timed without the memory sampler: reading /proc/PID/smaps_rollup of ~17 processes every
      // 100 ms costs this process (and the 2 cores) enough to show in the client clock.
      const timings = await timeQueries(client, { caggs: server.community, runs: scale.runs, warmup: scale.warmup, slowRuns: scale.slowRuns }, logger, 'native');
      rows.push(...latencyRows(timings, 'native', `native (${edition}, ${server.community ? 'chunks older than 7 days compressed' : 'raw, uncompressed'}), ${dataset}`));
      devices = await benchDevices(client);
    } finally {
      await client.end().catch(() => {});
    }
    const sampler = startSampling(postmaster);
    let loadQueries = 0;
    try {
      logger.info(`native: ${scale.loadClients} clients × ${scale.loadSeconds} s of mixed queries`);
      loadQueries = await concurrentLoad(cluster.info, devices, scale.loadClients, scale.loadSeconds);
    } finally {
      const peak = await sampler.stop();
      const pss = peak.peakPss.pssBytes;
      rows.push({
        figure: 'memory: peak server memory under the query load',
        ours: `${mb(pss)} PSS (RSS sum ${mb(peak.peakRss.rssBytes)})`,
        baseline: `${mb(idle.pssBytes)} PSS idle`,
        ratio: `${times(pss / idle.pssBytes)} idle`,
        target: `goal ≤ ${TUNING.memoryMb} MB`,
        verdict: pss <= TUNING.memoryMb * 1024 * 1024 ? 'met' : 'missed',
        note: `native (${edition}), tuningFor(${TUNING.memoryMb}, ${TUNING.cpus}) (shared_buffers ${tuning.shared_buffers}, work_mem ${tuning.work_mem}); the postmaster and its children (${peak.peakPss.processes} processes at the peak) from /proc/PID/smaps_rollup, ${peak.samples} samples over ${scale.loadClients} clients × ${scale.loadSeconds} s of mixed raw queries (${loadQueries.toLocaleString('en-US')} queries); judged on the PSS sum, which counts each shared page once, as a container's memory limit does; the RSS sum counts the shared buffers again in every process that touched them`,
      });
    }

    if (server.community) rows.push(schedulerRow(await withClient(cluster.info, (c) => resumeAndCount(c, paused, phaseStarted, 60_000)), `native (${edition})`));

    rows.push(
      ...(await external({
        rows: summary.metricsRows,
        connection: cluster.info,
        cluster: { pgBin: PG_BIN, dataDir: cluster.dataDir, socketDir: cluster.socketDir, port: cluster.port },
        dataset: { devices: size.devices, days: size.days, intervalSeconds: summary.intervalSeconds, rows: summary.metricsRows, costRows: summary.costRows, end: summary.end },
        logger,
        scale: scale.name,
      })),
    );
  } finally {
    await cluster.stop();
    forget();
  }
  return rows;
}
