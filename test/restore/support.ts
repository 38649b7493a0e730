import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Manifest, Verification } from '../../ops/lib/backup/manifest.js';

/** A manifest as backup() writes it, for tests that need no real dump. */
export function fakeManifest(overrides: Partial<Manifest> & { id: string; createdAt: string }): Manifest {
  return {
    format: 1,
    target: { kind: 'server', label: 'postgres://postgres@127.0.0.1:5432/aetherlens', database: 'aetherlens' },
    versions: { server: '15.20', pgDump: '15.20', pgDumpAt: '/usr/lib/postgresql/15/bin/pg_dump', timescaledb: '2.19.3', edition: 'apache', aetherlensDb: '0.1.0' },
    migrationHead: 3,
    dump: { file: 'aetherlens.dump', format: 'custom', compression: 'gzip level 1', bytes: 4, sha256: 'x' },
    durationSeconds: 1,
    timings: { dump: 1, fingerprint: 0.1, checksum: 0 },
    notices: {},
    fingerprint: { format: 1, extensions: { timescaledb: '2.19.3' }, tables: { devices: { rows: 3, hash: '1' } }, hypertables: { metrics: { timeColumn: 'time', chunks: { _hyper_1_1_chunk: { rows: 10, minTime: null, maxTime: null, sums: {} } } } }, continuousAggregates: {}, jobs: {}, newestData: null },
    verification: null,
    ...overrides,
  };
}

export const passed = (at = '2026-11-20T12:00:00Z'): Verification => ({ verifiedAt: at, result: 'passed', seconds: 1, differences: [] });
export const failed = (at = '2026-11-20T12:00:00Z'): Verification => ({ verifiedAt: at, result: 'failed', seconds: 1, differences: ['table devices: row count 3 → 2'] });

/** Writes a backup folder (manifest + a 4-byte dump) into `dir`. */
export async function writeFakeBackup(dir: string, manifest: Manifest): Promise<void> {
  const path = join(dir, manifest.id);
  await mkdir(path, { recursive: true });
  await writeFile(join(path, 'manifest.json'), JSON.stringify(manifest));
  await writeFile(join(path, manifest.dump.file), 'dump');
}
