/**
 * What the benchmark modules share: the row every figure becomes, and the context handed to the
 * benches other modules own (test/bench/backup.bench.ts exports benchBackup(ctx), and
 * test/bench/restore.bench.ts benchRestore(ctx)). The runner imports them when they exist and
 * accepts their rows in their own shape (numbers, nulls): see ExternalRow.
 */
import type { ConnectionInfo, Logger } from '../../ops/lib/index.js';

/** One line of the printed table. Backup/restore benches may return only the first four fields. */
export interface BenchRow {
  figure: string;
  /** The project's number, with its unit. */
  ours: string;
  /** What it is compared with, measured in the same run (or "—" when nothing is). */
  baseline: string;
  /** ours against the baseline, e.g. "0.82×" or "38× faster". */
  ratio: string;
  /** The specification's target and the goal, as text ("spec < 50 ms; goal p95 ≤ 5 ms"). */
  target?: string;
  /** Whether the figure meets every target it is shown against; 'info' when it has none. */
  verdict?: 'met' | 'missed' | 'info';
  /** Where and how it was measured, and anything a reader must know (smaller dataset, n runs). */
  note?: string;
}

/** The dataset a context's database holds. */
export interface BenchDataset {
  devices: number;
  days: number;
  intervalSeconds: number;
  /** metrics rows. */
  rows: number;
  /** cost_calculations rows. */
  costRows: number;
  /** Exclusive end of the readings (close to the time the bench started). */
  end: Date;
}

/** A row as backup.bench.ts and restore.bench.ts return it. */
export interface ExternalRow {
  figure: string;
  ours: number | string;
  baseline: number | string | null;
  ratio: number | string | null;
}

/**
 * Handed to benchBackup/benchRestore: a native PostgreSQL 15 + TimescaleDB server (versions and
 * edition as the table's header reads them) with the benchmark dataset loaded, tuned like a 512 MB
 * container; on the community edition migrated to the head, its continuous aggregates materialized
 * and the chunks older than 7 days compressed by the policy. Both benches measure
 * this server and its dataset (a cluster and rows of their own only when run standalone) and
 * leave the dataset's database as it was: their restores go into scratch databases they drop.
 */
export interface BenchContext {
  /** Progress lines (the same as logger.info, prefixed with the bench's name). */
  log: (line: string) => void;
  /** metrics rows in the dataset (the same as dataset.rows). */
  rows: number;
  /** Superuser connection to the database that holds the dataset. */
  connection: ConnectionInfo;
  /** The throwaway cluster: its own port and data directory; PostgreSQL tools in pgBin. */
  cluster: { pgBin: string; dataDir: string; socketDir: string; port: number };
  dataset: BenchDataset;
  /** Progress goes here (stderr); the runner prints the table. */
  logger: Logger;
  /** A scratch folder for this bench alone, removed by the runner afterwards. */
  tmpDir: string;
  /** 'full' (the dataset) or 'small' (BENCH_SCALE=small, a quick check). */
  scale: 'full' | 'small';
}
