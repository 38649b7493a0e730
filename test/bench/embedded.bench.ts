/**
 * The embedded engine (PGlite + TimescaleDB community edition), for what the Apache-edition native
 * server here cannot do: migrate to the real head, continuous aggregates, compression. Its
 * dataset is set by scale.ts and named in every row.
 */
import { join } from 'node:path';
import { openEmbeddedEngine, type Logger } from '../../ops/lib/index.js';
import { connect } from '../../ops/lib/pg.js';
import { PG_BIN } from '../support/nativeCluster.js';
import { onInterrupt } from './cleanup.js';
import { compressByPolicy } from './compression.js';
import type { BenchRow } from './context.js';
import { seedDataset } from './ingest.bench.js';
import { latencyRows, timeQueries } from './latency.js';
import { applicableMigrations, psqlApply, runnerApply } from './migrate.bench.js';
import { describeSize, type BenchScale } from './scale.js';
import { mb, perSecond, seconds, times } from './stats.js';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export async function benchEmbedded(scale: BenchScale, tmpDir: string, logger: Logger): Promise<BenchRow[]> {
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
  const engine = await openEmbeddedEngine({ dataDir: join(tmpDir, 'embedded') });
  const bootSeconds = (performance.now() - opened) / 1000;
  const forget = onInterrupt(() => engine.close());
  try {
    rows.push({
      figure: 'start-up: embedded engine, new data directory',
      ours: seconds(bootSeconds),
      baseline: '—',
      ratio: '—',
      target: 'spec < 10 s',
      verdict: bootSeconds < 10 ? 'met' : 'missed',
      note: 'openEmbeddedEngine(): WebAssembly instance, initdb, LOAD and CREATE EXTENSION timescaledb, socket served',
    });

    logger.info('embedded: migrate to head');
    const migrateSeconds = await runnerApply(engine.info, head);
    rows.push({
      figure: `migrate: empty → head ${String(head).padStart(3, '0')} (embedded, community)`,
      ours: seconds(migrateSeconds),
      baseline: `${seconds(psqlSeconds)} psql`,
      ratio: `${times(migrateSeconds / psqlSeconds)} psql's time`,
      target: 'goal ≤ 3 s',
      verdict: migrateSeconds <= 3 ? 'met' : 'missed',
      note: `one run each on a fresh engine; baseline: psql -X -1 -v ON_ERROR_STOP=1 -f 001 … -f ${String(head).padStart(3, '0')} (one transaction, no checks, no ledger)`,
    });

    const size = scale.embedded;
    logger.info(`embedded: seeding ${size.devices} devices × ${size.days} days × ${size.interval}`);
    const { summary, seconds: seedSeconds } = await seedDataset(engine.info, size, new Date(), logger);
    const dataset = describeSize(size, summary.metricsRows);
    rows.push({
      figure: 'ingest: generator on the embedded engine',
      ours: perSecond(summary.writtenRows, seedSeconds),
      baseline: '—',
      ratio: '—',
      verdict: 'info',
      note: `${dataset} in ${seconds(seedSeconds)}, method ${summary.method} (the embedded wire server takes no COPY FROM STDIN), including the cost rows and the refresh of ${summary.refreshedAggregates.length} continuous aggregates`,
    });

    const compression = await compressByPolicy(engine.info, ['metrics', 'cost_calculations'], logger);
    for (const c of compression) {
      const saved = 1 - c.chunkBytesAfter / c.chunkBytesBefore;
      const tableSaved = 1 - c.tableBytesAfter / c.tableBytesBefore;
      rows.push({
        figure: `compression: ${c.table}, chunks the policy compressed`,
        ours: mb(c.chunkBytesAfter),
        baseline: `${mb(c.chunkBytesBefore)} before`,
        ratio: `${pct(saved)} saved`,
        target: c.table === 'metrics' ? 'spec > 70%; goal ≥ 90%' : 'spec > 70%',
        verdict: saved > 0.7 && (c.table !== 'metrics' || saved >= 0.9) ? 'met' : 'missed',
        note: `embedded, ${dataset}; ${c.chunks} of ${c.chunksTotal} chunks compressed by CALL run_job (${seconds(c.jobSeconds)}); whole table incl. the uncompressed newest chunks ${mb(c.tableBytesBefore)} → ${mb(c.tableBytesAfter)} (${pct(tableSaved)} saved)`,
      });
    }

    const client = await connect(engine.info);
    try {
      const timings = await timeQueries(client, { caggs: true, runs: scale.runs, warmup: scale.warmup, slowRuns: scale.slowRuns }, logger, 'embedded');
      rows.push(...latencyRows(timings, 'embedded', `embedded (community, compressed), ${dataset}`));
    } finally {
      await client.end().catch(() => {});
    }
  } finally {
    await engine.close();
    forget();
  }
  return rows;
}
