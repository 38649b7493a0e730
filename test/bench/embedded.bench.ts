/**
 * The embedded engine (PGlite + TimescaleDB, `aetherlens-db local`): its start-up, migrate to the
 * head, the continuous aggregates and compression, the same figures the native phase takes on a
 * community-edition server. Its versions and edition are read from the engine; its dataset is set
 * by scale.ts and named in every row.
 */
import { join } from 'node:path';
import { ENGINE_ID, openEmbeddedEngine, type Logger } from '../../ops/lib/index.js';
import { openEmbeddedTarget } from '../../ops/lib/targets/embedded/target.js';
import { connect, withClient } from '../../ops/lib/pg.js';
import { PG_BIN } from '../support/nativeCluster.js';
import { onInterrupt } from './cleanup.js';
import { compressByPolicy, compressionRows } from './compression.js';
import type { BenchRow } from './context.js';
import { seedDataset } from './ingest.bench.js';
import { latencyRows, timeQueries } from './latency.js';
import { applicableMigrations, psqlApply, runnerApply } from './migrate.bench.js';
import { describeSize, type BenchScale } from './scale.js';
import { describeServer, readServer, timescaleLabel } from './server.js';
import { perSecond, seconds, times } from './stats.js';

/** Runs the embedded phase; `onServer` gets the engine's description as soon as it is read. */
export async function benchEmbedded(scale: BenchScale, tmpDir: string, logger: Logger, onServer: (description: string) => void): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const files = await applicableMigrations(true);
  const head = files[files.length - 1]!.version;

  // Baseline first, on its own engine: psql needs an empty database too.
  logger.info('embedded: psql -f of the migrations on a fresh engine');
  const scratch = await openEmbeddedEngine({ dataDir: join(tmpDir, 'embedded-psql') });
  let psqlSeconds: number;
  try {
    psqlSeconds = await psqlApply(PG_BIN, scratch.info, files.map((f) => f.path));
  } finally {
    await scratch.close();
  }

  const opened = performance.now();
  const target = await openEmbeddedTarget({ dataDir: join(tmpDir, 'embedded'), command: 'bench' });
  const engine = target.engine!;
  const bootSeconds = (performance.now() - opened) / 1000;
  const forget = onInterrupt(() => target.close());
  try {
    // One session at a time on this engine: no probe session, the extension exists once it opens.
    const server = await withClient(engine.info, (c) => readServer(c));
    onServer(`PGlite ${ENGINE_ID.split('@').pop()}, ${describeServer(server)}`);
    const edition = timescaleLabel(server);
    rows.push({
      figure: 'start-up: embedded engine, new data directory',
      ours: seconds(bootSeconds),
      baseline: '—',
      ratio: '—',
      target: 'spec < 10 s',
      verdict: bootSeconds < 10 ? 'met' : 'missed',
      note: 'the embedded target opened (openEmbeddedEngine()): WebAssembly instance, initdb, LOAD and CREATE EXTENSION timescaledb, socket served',
    });

    logger.info('embedded: migrate to head');
    const migrateSeconds = await runnerApply(target, head);
    rows.push({
      figure: `migrate: empty → head ${String(head).padStart(3, '0')} (embedded, ${edition})`,
      ours: seconds(migrateSeconds),
      baseline: `${seconds(psqlSeconds)} psql`,
      ratio: `${times(migrateSeconds / psqlSeconds)} psql's time`,
      target: 'goal ≤ 3 s',
      verdict: migrateSeconds <= 3 ? 'met' : 'missed',
      note: `one run each on a fresh engine; baseline: psql -X -1 -v ON_ERROR_STOP=1 -f 001 … -f ${String(head).padStart(3, '0')} (one transaction, no checks, no ledger)`,
    });

    const size = scale.embedded;
    logger.info(`embedded: seeding ${size.devices} devices × ${size.days} days × ${size.interval}`);
    const { summary, seconds: seedSeconds } = await seedDataset(target, size, new Date(), logger);
    const dataset = describeSize(size, summary.metricsRows);
    rows.push({
      figure: 'ingest: generator on the embedded engine',
      ours: perSecond(summary.writtenRows, seedSeconds),
      baseline: '—',
      ratio: '—',
      verdict: 'info',
      note: `${dataset} in ${seconds(seedSeconds)}, method ${summary.method} (the embedded wire server takes no COPY FROM STDIN), including the cost rows and the refresh of ${summary.refreshedAggregates.length} continuous aggregates`,
    });

    rows.push(...compressionRows(await compressByPolicy(engine.info, ['metrics', 'cost_calculations'], logger, 'embedded'), `embedded (${edition}), ${dataset}`));

    const client = await connect(engine.info);
    try {
      const timings = await timeQueries(client, { caggs: true, runs: scale.runs, warmup: scale.warmup, slowRuns: scale.slowRuns }, logger, 'embedded');
      rows.push(...latencyRows(timings, 'embedded', `embedded (${edition}, chunks older than 7 days compressed), ${dataset}`));
    } finally {
      await client.end().catch(() => {});
    }
  } finally {
    await target.close();
    forget();
  }
  return rows;
}
