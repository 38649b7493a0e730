/**
 * PostgreSQL settings sized from the container's memory limit and CPUs. The formulas are
 * timescaledb-tune's (github.com/timescale/timescaledb-tune, pkg/pgtune: memory.go, parallel.go,
 * wal.go, misc.go; byte formatting from internal/parse/parse.go), ported so the stack passes them
 * as explicit `-c` flags: the image's own timescaledb-tune run is switched off (NO_TS_TUNE), which
 * leaves this file as the one source of truth for the container and for the benchmarks.
 */

const KB = 1024;
const MB = 1024 * KB;
const GB = 1024 * MB;
const TB = 1024 * GB;

/** timescaledb-tune's MaxBackgroundWorkersDefault; it refuses anything lower. */
const MAX_BACKGROUND_WORKERS = 16;
/** Built-in processes counted into max_worker_processes (checkpointer, WAL writer, autovacuum). */
const MIN_BUILT_IN_PROCESSES = 3;
/** work_mem per GB of memory for 20 connections, "derived from pgtune results" (memory.go). */
const WORK_MEM_PER_GB_PER_CONN = 6.4 * 20 * MB;
const WORK_MEM_MIN = 64 * KB;
const MAINTENANCE_WORK_MEM_LIMIT = 2047 * MB;
/** Without a WAL disk size, max_wal_size is 1GB and min_wal_size half of it (wal.go). */
const DEFAULT_MAX_WAL = 1 * GB;

/** The settings this stack pins; values are in PostgreSQL's own notation, ready for `-c name=value`. */
export interface PostgresTuning {
  shared_buffers: string;
  effective_cache_size: string;
  maintenance_work_mem: string;
  work_mem: string;
  max_connections: string;
  'timescaledb.max_background_workers': string;
  max_worker_processes: string;
  max_parallel_workers_per_gather: string;
  max_parallel_workers: string;
  wal_buffers: string;
  min_wal_size: string;
  max_wal_size: string;
  default_statistics_target: string;
  random_page_cost: string;
  checkpoint_completion_target: string;
  max_locks_per_transaction: string;
  autovacuum_max_workers: string;
  autovacuum_naptime: string;
  effective_io_concurrency: string;
}

/** parse.BytesToPGFormat: the largest unit that keeps an integer, else one unit smaller. */
export function bytesToPgFormat(bytes: number): string {
  const units: [number, string][] = [
    [TB, 'TB'],
    [GB, 'GB'],
    [MB, 'MB'],
    [KB, 'kB'],
  ];
  const index = units.findIndex(([size]) => bytes >= size);
  if (index === -1) return '1kB'; // nothing below 1kB is allowed
  const [size, unit] = units[index]!;
  let value = bytes / size;
  if (unit === 'kB') return `${Math.round(value)}kB`;
  if (value - Math.trunc(value) > 0.001) {
    const [, smaller] = units[index + 1]!;
    value *= 1024;
    return `${Math.trunc(value)}${smaller}`;
  }
  return `${Math.trunc(value)}${unit}`;
}

/** misc.go getMaxConns: a step function of memory. */
function maxConnections(totalBytes: number): number {
  if (totalBytes <= 2 * GB) return 25;
  if (totalBytes <= 4 * GB) return 50;
  if (totalBytes <= 6 * GB) return 75;
  return 100;
}

/** misc.go maxLocksValues: 128 below 8GB, doubling at 8, 16 and 32GB. */
function maxLocksPerTransaction(totalBytes: number): number {
  if (totalBytes >= 32 * GB) return 1024;
  if (totalBytes >= 16 * GB) return 512;
  if (totalBytes >= 8 * GB) return 256;
  return 128;
}

/**
 * The PostgreSQL settings for a container limited to `memoryMb` and `cpus`. Fractional CPU limits
 * count as the next whole CPU (a 1.5 CPU quota still runs on two cores at once).
 *
 * One deliberate difference from timescaledb-tune: with a single CPU it skips the parallelism
 * group and leaves PostgreSQL's defaults, which do not fit TimescaleDB's 16 background workers; we
 * still pin the worker counts and turn parallel query off, since a parallel worker on the only CPU
 * only competes with its leader.
 */
export function tuningFor(memoryMb: number, cpus: number): PostgresTuning {
  if (!Number.isFinite(memoryMb) || memoryMb <= 0) throw new RangeError(`memoryMb must be a positive number (got ${memoryMb})`);
  if (!Number.isFinite(cpus) || cpus <= 0) throw new RangeError(`cpus must be a positive number (got ${cpus})`);
  const total = Math.trunc(memoryMb) * MB;
  const cpuCount = Math.max(1, Math.ceil(cpus));
  const gigs = total / GB;
  const connections = maxConnections(total);

  // memory.go: CPUs only affect work_mem in pairs (Go's math.Round and JS Math.round agree on x.5 > 0).
  const cpuFactor = Math.round(cpuCount / 2);
  const workMem = Math.max(WORK_MEM_MIN, Math.trunc((gigs * (WORK_MEM_PER_GB_PER_CONN / connections)) / cpuFactor));
  const maintenanceWorkMem = Math.min(MAINTENANCE_WORK_MEM_LIMIT, gigs * 128 * MB);
  // wal.go: 7864kB per GB below 2GB, else 16MB.
  const walBuffers = total < 2 * GB ? gigs * 7864 * KB : 16 * MB;

  return {
    shared_buffers: bytesToPgFormat(Math.trunc(total / 4)),
    effective_cache_size: bytesToPgFormat(Math.trunc((total * 3) / 4)),
    maintenance_work_mem: bytesToPgFormat(Math.trunc(maintenanceWorkMem)),
    work_mem: bytesToPgFormat(workMem),
    max_connections: String(connections),
    'timescaledb.max_background_workers': String(MAX_BACKGROUND_WORKERS),
    max_worker_processes: String(MIN_BUILT_IN_PROCESSES + MAX_BACKGROUND_WORKERS + cpuCount),
    max_parallel_workers_per_gather: String(cpuCount === 1 ? 0 : Math.round(cpuCount / 2)),
    max_parallel_workers: String(cpuCount),
    wal_buffers: bytesToPgFormat(Math.trunc(walBuffers)),
    min_wal_size: bytesToPgFormat(DEFAULT_MAX_WAL / 2),
    max_wal_size: bytesToPgFormat(DEFAULT_MAX_WAL),
    default_statistics_target: '100',
    random_page_cost: '1.1',
    checkpoint_completion_target: '0.9',
    max_locks_per_transaction: String(maxLocksPerTransaction(total)),
    autovacuum_max_workers: '10',
    autovacuum_naptime: '10',
    // PostgreSQL 13+ value (misc.go getEffectiveIOConcurrency); the image is PostgreSQL 15.
    effective_io_concurrency: '256',
  };
}
