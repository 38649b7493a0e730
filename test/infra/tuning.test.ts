// tuningFor against timescaledb-tune's formulas and its own test vectors (pkg/pgtune/*_test.go).
import { describe, expect, it } from 'vitest';
import { bytesToPgFormat, tuningFor } from '../../infra/tuning.js';

describe('tuningFor', () => {
  it('sizes a 512 MB, 1 CPU container', () => {
    expect(tuningFor(512, 1)).toEqual({
      shared_buffers: '128MB',
      effective_cache_size: '384MB',
      maintenance_work_mem: '64MB',
      work_mem: '2621kB',
      max_connections: '25',
      'timescaledb.max_background_workers': '16',
      max_worker_processes: '20',
      max_parallel_workers_per_gather: '0',
      max_parallel_workers: '1',
      wal_buffers: '3932kB',
      min_wal_size: '512MB',
      max_wal_size: '1GB',
      default_statistics_target: '100',
      random_page_cost: '1.1',
      checkpoint_completion_target: '0.9',
      max_locks_per_transaction: '128',
      autovacuum_max_workers: '10',
      autovacuum_naptime: '10',
      effective_io_concurrency: '256',
    });
  });

  it('sizes a 2 GB, 2 CPU container', () => {
    expect(tuningFor(2048, 2)).toMatchObject({
      shared_buffers: '512MB',
      effective_cache_size: '1536MB',
      maintenance_work_mem: '256MB',
      work_mem: '10485kB',
      max_connections: '25',
      'timescaledb.max_background_workers': '16',
      max_worker_processes: '21',
      max_parallel_workers_per_gather: '1',
      max_parallel_workers: '2',
      wal_buffers: '16MB',
      max_locks_per_transaction: '128',
    });
  });

  it('matches timescaledb-tune at larger sizes (its memory_test.go vectors)', () => {
    // 10 GB: 100 connections; work_mem 64MB at 20 connections and 1 CPU, so 12.8MB here.
    expect(tuningFor(10 * 1024, 1)).toMatchObject({ shared_buffers: '2560MB', effective_cache_size: '7680MB', maintenance_work_mem: '1280MB', work_mem: '13107kB', max_connections: '100', max_locks_per_transaction: '256' });
    // CPUs count in pairs for work_mem: 4 CPUs halve it.
    expect(tuningFor(10 * 1024, 4)).toMatchObject({ work_mem: '6553kB', max_worker_processes: '23', max_parallel_workers: '4', max_parallel_workers_per_gather: '2' });
    expect(tuningFor(12 * 1024, 1)).toMatchObject({ shared_buffers: '3GB', effective_cache_size: '9GB', maintenance_work_mem: '1536MB', work_mem: '15728kB' });
    expect(tuningFor(32 * 1024, 1)).toMatchObject({ shared_buffers: '8GB', effective_cache_size: '24GB', maintenance_work_mem: '2047MB', work_mem: '41943kB', max_locks_per_transaction: '1024' });
    expect(tuningFor(3 * 1024, 5)).toMatchObject({ max_connections: '50', max_parallel_workers_per_gather: '3' });
  });

  it('counts a fractional CPU limit as the next whole CPU', () => {
    expect(tuningFor(1024, 1.5)).toEqual(tuningFor(1024, 2));
    expect(tuningFor(1024, 0.5)).toEqual(tuningFor(1024, 1));
  });

  it('refuses nonsense', () => {
    expect(() => tuningFor(0, 1)).toThrow(RangeError);
    expect(() => tuningFor(512, Number.NaN)).toThrow(RangeError);
  });
});

describe('bytesToPgFormat (parse.BytesToPGFormat)', () => {
  it('uses the largest whole unit, else the next smaller one', () => {
    expect(bytesToPgFormat(512)).toBe('1kB');
    expect(bytesToPgFormat(1536)).toBe('2kB');
    expect(bytesToPgFormat(128 * 1024 * 1024)).toBe('128MB');
    expect(bytesToPgFormat(1.5 * 1024 ** 3)).toBe('1536MB');
    expect(bytesToPgFormat(2 * 1024 ** 4)).toBe('2TB');
  });
});
