import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Manifest, Verification } from '../../ops/lib/backup/manifest.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import type { ConnectionInfo } from '../../ops/lib/connection.js';
import { migrate, pgliteSqlClient, pgSqlClient, seed, silentLogger, takeFingerprint, type Fingerprint } from '../../ops/lib/index.js';
import { withClient } from '../../ops/lib/pg.js';
import { openEmbeddedTarget, type EmbeddedTarget } from '../../ops/lib/targets/embedded/target.js';
import { CLI } from '../support/cli.js';
import { serverTargetOf } from '../support/targets.js';
/** A manifest as backup() writes it, for tests that need no real dump. */
export function fakeManifest(overrides: Partial<Manifest> & { id: string; createdAt: string }): Manifest {
  return {
    format: 1,
    target: { kind: 'server', label: 'postgres://postgres@127.0.0.1:5432/aetherlens', database: 'aetherlens' },
    versions: { server: '15.20', pgDump: '15.20', pgDumpAt: '/usr/lib/postgresql/15/bin/pg_dump', timescaledb: '2.22.1', edition: 'timescale', aetherlensDb: '0.1.0' },
    migrationHead: 3,
    dump: { file: 'aetherlens.dump', format: 'custom', compression: 'gzip level 1', bytes: 4, sha256: 'x' },
    durationSeconds: 1,
    timings: { dump: 1, fingerprint: 0.1, checksum: 0 },
    notices: {},
    fingerprint: { format: 1, extensions: { timescaledb: '2.22.1' }, tables: { devices: { rows: 3, hash: '1' } }, hypertables: { metrics: { timeColumn: 'time', chunks: { _hyper_1_1_chunk: { rows: 10, minTime: null, maxTime: null, sums: {} } } } }, continuousAggregates: {}, jobs: {}, newestData: null },
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

export const ADMIN_PASSWORD = 'restore-tests-admin-password-1';

/**
 * The whole schema (001-006: hypertables, continuous aggregates, compression and policy jobs) and a
 * few days of seeded readings, which the seeder also materializes into the aggregates.
 */
export async function seededServerDatabase(info: ConnectionInfo, options: { days?: number; extraRows?: number } = {}): Promise<void> {
  await migrate({ target: await serverTargetOf(info) });
  await seed(await serverTargetOf(info), { days: options.days ?? 3, interval: '5m', seed: 7, adminPassword: ADMIN_PASSWORD }, silentLogger);
  if (options.extraRows) await addReadings(info, options.extraRows);
}

/** Bulk 10-second readings before the seeded window, so a restore takes a few seconds. */
export async function addReadings(info: ConnectionInfo, rows: number): Promise<void> {
  await withClient(info, (c) => c.query(`
    INSERT INTO metrics (time, device_id, power_deciwatts, energy_milliwatt_hours, voltage_decivolts, current_milliamps, power_factor_percent, frequency_centihertz, temperature_decicelsius, state)
    SELECT t, d.device_id, (random() * 5000)::int, 1000, 2300, 1000, 95, 5000, 210, 'on'
      FROM (SELECT device_id FROM devices ORDER BY device_id) d
     CROSS JOIN generate_series(now() - interval '30 days' - ($1::int / 3) * interval '10 seconds', now() - interval '30 days', interval '10 seconds') t`, [rows]));
}

/** Opens the embedded database in this process (holding its lock), runs `fn`, closes it. */
export async function withEmbedded<T>(dataDir: string, fn: (target: EmbeddedTarget) => Promise<T>): Promise<T> {
  const target = await openEmbeddedTarget({ dataDir, command: 'test', requireOwnership: true });
  try {
    return await fn(target);
  } finally {
    await target.close();
  }
}

export function embeddedFingerprintOf(dataDir: string): Promise<Fingerprint> {
  return withEmbedded(dataDir, (t) => takeFingerprint(pgliteSqlClient(t.engine!.db)));
}

export async function fingerprintOf(info: ConnectionInfo, database = info.database): Promise<Fingerprint> {
  return withClient(info, (c) => takeFingerprint(pgSqlClient(c)), database);
}

export async function databases(info: ConnectionInfo): Promise<string[]> {
  return withClient(info, async (c) => (await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1') ORDER BY 1`)).rows.map((r) => r.datname), 'postgres');
}

/** Starts the real CLI in a child process and hands back the process (to kill it). */
export function startCli(args: string[], env: Record<string, string | undefined>): ResultPromise<{ reject: false; extendEnv: false }> {
  return execa(process.execPath, [CLI, ...args], { reject: false, extendEnv: false, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: 180_000 }) as ResultPromise<{ reject: false; extendEnv: false }>;
}

/** Polls until `check` returns a value. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}
