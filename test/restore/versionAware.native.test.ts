import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compareAcrossUpdate, migrate, type Manifest } from '../../ops/lib/index.js';
import { connectionUrl } from '../../ops/lib/connection.js';
// 2.28.3 refuses a refresh beside a policy's over the same window; wait it out as the library does.
import { refreshWaitingOutOthers } from '../../ops/lib/aggregateRefresh.js';
import { withClient } from '../../ops/lib/pg.js';
import { runCli } from '../support/cli.js';
import { nativeVersionsUnavailable, PG_BIN, startNativeCluster, type NativeCluster } from '../support/nativeCluster.js';
import { addReadings, databases, fingerprintOf, seededServerDatabase } from './support.js';
import { serverTargetOf } from '../support/targets.js';

const unavailable = nativeVersionsUnavailable(['2.22.1', '2.28.3']);
if (unavailable) console.warn(`skipping version-aware restore tests: ${unavailable}`);

const extversion = (cluster: NativeCluster, database: string) =>
  withClient(cluster.info, async (c) => (await c.query<{ v: string }>(`SELECT extversion AS v FROM pg_extension WHERE extname = 'timescaledb'`)).rows[0]?.v, database);

/**
 * A dump restores at the TimescaleDB version it was taken with, then moves up with ALTER
 * EXTENSION UPDATE in a fresh session and is checked again. The server has 2.22.1 (its default
 * here, see scripts/install-timescaledb.sh) and 2.28.3 installed side by side.
 */
describe.skipIf(unavailable)('version-aware restore on a server with TimescaleDB 2.22.1 and 2.28.3', () => {
  let cluster: NativeCluster;
  let dir: string;
  let env: Record<string, string>;
  let backupId: string;

  const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { ...env, ...extra }, { timeoutMs: 240_000 });
  const manifestOf = async (id: string, from = dir): Promise<Manifest> => JSON.parse(await readFile(join(from, id, 'manifest.json'), 'utf8')) as Manifest;

  beforeAll(async () => {
    cluster = await startNativeCluster();
    dir = await mkdtemp(join(tmpdir(), 'aetherlens-version-aware-'));
    env = { DATABASE_URL: cluster.url, AETHERLENS_BACKUP_DIR: dir, PG_BIN_DIR: PG_BIN };
    await seededServerDatabase(cluster.info);
    const made = await cli(['backup', '--json']);
    expect(made.exitCode, made.stderr).toBe(0);
    backupId = (JSON.parse(made.stdout) as { manifest: Manifest }).manifest.id;
  }, 240_000);
  afterAll(async () => {
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('the backup was taken at 2.22.1, the default version of this server', async () => {
    expect(await extversion(cluster, 'aetherlens')).toBe('2.22.1');
    expect((await manifestOf(backupId)).versions.timescaledb).toBe('2.22.1');
  });

  test('verify --update-to 2.28.3: restored at 2.22.1, checked, updated in a fresh session, checked again', async () => {
    const r = await cli(['verify', backupId, '--update-to', '2.28.3']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^verify ${backupId} \\(.+\\): PASSED$`));
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}ok {4}extension update {6}TimescaleDB 2\.22\.1 → 2\.28\.3 in \d+\.\d s \(a fresh session, first statement\)$/));
    expect(lines).toContain('  ok    fingerprint           after the update to 2.28.3: every table and chunk as before it');
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}ok {4}jobs {18}after the update: \d+ jobs present and scheduled$/));
    expect(lines).toContain('  ok    continuous aggregates after the update: 4 present');
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}ok {4}refresh {15}after the update: 4 refreshed completely in \d+\.\d s$/));
    expect(lines.at(-1)).toBe(`TimescaleDB: restored at 2.22.1 (the dump's version), then updated to 2.28.3 and checked again`);
    expect((await manifestOf(backupId)).verification).toMatchObject({ result: 'passed', timescaledb: { restoredAt: '2.22.1', updatedTo: '2.28.3' } });
    expect(await databases(cluster.info)).toEqual(['aetherlens']);
  });

  test('without --update-to the copy stays at the server default, 2.22.1: nothing to update', async () => {
    const r = await cli(['verify', backupId]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).not.toContain('extension update');
    expect(r.stdout.split('\n').at(-1)).toBe(`TimescaleDB 2.22.1: the dump's version, kept (this server's default is not newer)`);
  });

  test('restore --update-to 2.28.3: the live database ends at 2.28.3 with the same data, and its aggregates refresh', async () => {
    const before = await fingerprintOf(cluster.info);
    const r = await cli(['restore', backupId, '--yes', '--update-to', '2.28.3']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout.split('\n').at(-1)).toBe(`TimescaleDB: restored at 2.22.1 (the dump's version), then updated to 2.28.3 and checked again`);
    expect(await extversion(cluster, 'aetherlens')).toBe('2.28.3');
    const after = await fingerprintOf(cluster.info);
    expect(after.extensions.timescaledb).toBe('2.28.3');
    expect(compareAcrossUpdate(before, after)).toEqual([]);
    await addReadings(cluster.info, 300);
    await withClient(cluster.info, (c) => refreshWaitingOutOthers(c, `CALL refresh_continuous_aggregate('metrics_hourly', NULL, NULL)`));
  });

  test('a dump taken at 2.28.3 restores at 2.28.3 here, although the server default is 2.22.1', async () => {
    await withClient(cluster.info, (c) => c.query('CREATE DATABASE newer'), 'postgres');
    const info = { ...cluster.info, database: 'newer' };
    // The first statement of a new session, as CREATE EXTENSION of a non-default version needs.
    await withClient(info, (c) => c.query(`CREATE EXTENSION timescaledb VERSION '2.28.3'`));
    await migrate({ target: await serverTargetOf(info) });
    const newerDir = await mkdtemp(join(tmpdir(), 'aetherlens-version-aware-newer-'));
    try {
      const e = { DATABASE_URL: connectionUrl(info), AETHERLENS_BACKUP_DIR: newerDir };
      const made = await cli(['backup', '--json'], e);
      expect(made.exitCode, made.stderr).toBe(0);
      const id = (JSON.parse(made.stdout) as { manifest: Manifest }).manifest.id;
      expect((await manifestOf(id, newerDir)).versions.timescaledb).toBe('2.28.3');
      const r = await cli(['verify', id], e);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.stdout.split('\n').at(-1)).toBe(`TimescaleDB 2.28.3: the dump's version, kept (this server's default is not newer)`);
    } finally {
      await rm(newerDir, { recursive: true, force: true });
    }
  });

  test('a backup from a TimescaleDB this server lacks is refused in one line naming what to install, and nothing is created', async () => {
    const lacking = await mkdtemp(join(tmpdir(), 'aetherlens-version-aware-lacking-'));
    try {
      await cp(join(dir, backupId), join(lacking, backupId), { recursive: true });
      const manifest = await manifestOf(backupId, lacking);
      await writeFile(join(lacking, backupId, 'manifest.json'), JSON.stringify({ ...manifest, versions: { ...manifest.versions, timescaledb: '2.21.0' } }));
      const r = await cli(['verify', backupId], { AETHERLENS_BACKUP_DIR: lacking });
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(new RegExp(`^error: backup ${backupId} was taken with TimescaleDB 2\\.21\\.0, but the server at .+ offers TimescaleDB [0-9., ]*2\\.22\\.1, 2\\.28\\.3: restore it on a server that has TimescaleDB 2\\.21\\.0 \\(e\\.g\\. the timescale/timescaledb:2\\.21\\.0-pg15 image .+; nothing was changed$`));
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect((await databases(cluster.info)).filter((d) => d.includes('_drill_'))).toEqual([]);
    } finally {
      await rm(lacking, { recursive: true, force: true });
    }
  });
});
