/**
 * How big a run is. `full` is the dataset on the native server (50 devices × 90 days of
 * 1-minute readings, 6.48 M rows); the embedded engine (WebAssembly, ~15-20 k rows/s of ingest
 * measured here) gets the same devices over fewer days, which every query still covers, and the
 * table says so. `small` (BENCH_SCALE=small) checks the machinery in a couple of minutes.
 */
import { OpsError } from '../../ops/lib/index.js';

export interface DatasetSize {
  devices: number;
  days: number;
  interval: string;
}

export interface BenchScale {
  name: 'full' | 'small';
  native: DatasetSize;
  embedded: DatasetSize;
  /** Timed runs per query (after warm-up) for the project's queries. */
  runs: number;
  /** Timed runs of raw baselines that take seconds each on the embedded engine. */
  slowRuns: number;
  warmup: number;
  /** Concurrent clients and seconds of the mixed query load sampled for memory. */
  loadClients: number;
  loadSeconds: number;
  /** Readings used for the "COPY into the migrated metrics table" diagnostic. */
  schemaCopyRows: number;
}

const FULL: BenchScale = {
  name: 'full',
  native: { devices: 50, days: 90, interval: '1m' },
  // 31 days: the longest window a query asks for is 30 days (+ today); 7-day chunks older than a
  // week get compressed like on a server.
  embedded: { devices: 50, days: 31, interval: '1m' },
  runs: 200,
  slowRuns: 20,
  warmup: 10,
  loadClients: 8,
  loadSeconds: 15,
  schemaCopyRows: 500_000,
};

const SMALL: BenchScale = {
  name: 'small',
  native: { devices: 20, days: 31, interval: '5m' },
  embedded: { devices: 10, days: 31, interval: '15m' },
  runs: 50,
  slowRuns: 5,
  warmup: 3,
  loadClients: 4,
  loadSeconds: 3,
  schemaCopyRows: 50_000,
};

function positive(name: string, text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new OpsError('USAGE', `${name} must be a whole number of at least 1 (got "${text}")`);
  return n;
}

/** BENCH_SCALE (full | small) and BENCH_EMBEDDED_DAYS (e.g. 90 for the full dataset there too). */
export function benchScale(env: NodeJS.ProcessEnv = process.env): BenchScale {
  const name = env.BENCH_SCALE ?? 'full';
  if (name !== 'full' && name !== 'small') throw new OpsError('USAGE', `BENCH_SCALE must be full or small (got "${name}")`);
  const scale = name === 'full' ? FULL : SMALL;
  const embeddedDays = positive('BENCH_EMBEDDED_DAYS', env.BENCH_EMBEDDED_DAYS);
  const runs = positive('BENCH_RUNS', env.BENCH_RUNS);
  return {
    ...scale,
    embedded: { ...scale.embedded, ...(embeddedDays ? { days: embeddedDays } : {}) },
    ...(runs ? { runs } : {}),
  };
}

/** "50 devices × 90 days × 1m (6,480,000 rows)". */
export function describeSize(size: DatasetSize, rows: number): string {
  return `${size.devices} devices × ${size.days} days × ${size.interval} (${rows.toLocaleString('en-US')} rows)`;
}
