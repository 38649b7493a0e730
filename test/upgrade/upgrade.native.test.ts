import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compareAcrossUpdate, compareFingerprints, type Fingerprint, type UpgradeReport } from '../../ops/lib/index.js';
// 2.28.3 refuses a refresh beside a policy's over the same window; wait it out as the library does.
import { refreshWaitingOutOthers } from '../../ops/lib/aggregateRefresh.js';
import { withClient } from '../../ops/lib/pg.js';
import { runCli } from '../support/cli.js';
import { nativeVersionsUnavailable, PG_BIN, startNativeCluster, type NativeCluster } from '../support/nativeCluster.js';
import { addReadings, fingerprintOf, seededServerDatabase } from '../restore/support.js';

const unavailable = nativeVersionsUnavailable(['2.22.1', '2.28.3']);
if (unavailable) console.warn(`skipping upgrade tests: ${unavailable}`);

/**
 * `aetherlens-db upgrade --to 2.28.3` on a real PostgreSQL 15 with TimescaleDB 2.22.1 (the
 * default here) and 2.28.3 installed side by side. template1 has the extension, as the
 * timescale/timescaledb image's init script leaves it.
 */
describe.skipIf(unavailable)('aetherlens-db upgrade: TimescaleDB 2.22.1 → 2.28.3 on a native server', () => {
  let cluster: NativeCluster;
  let dir: string;
  let env: Record<string, string>;
  let before: Fingerprint;

  const cli = (args: string[]) => runCli(args, env, { timeoutMs: 300_000 });
  const versionIn = (database: string) =>
    withClient(cluster.info, async (c) => (await c.query<{ v: string }>(`SELECT extversion AS v FROM pg_extension WHERE extname = 'timescaledb'`)).rows[0]?.v, database);
  const jobs = () => withClient(cluster.info, async (c) => (await c.query(`SELECT job_id, proc_name, scheduled FROM timescaledb_information.jobs ORDER BY job_id`)).rows);

  beforeAll(async () => {
    cluster = await startNativeCluster();
    dir = await mkdtemp(join(tmpdir(), 'aetherlens-upgrade-'));
    env = { DATABASE_URL: cluster.url, AETHERLENS_BACKUP_DIR: dir, PG_BIN_DIR: PG_BIN };
    await withClient(cluster.info, (c) => c.query('CREATE EXTENSION timescaledb'), 'template1');
    await seededServerDatabase(cluster.info);
    before = await fingerprintOf(cluster.info);
  }, 240_000);
  afterAll(async () => {
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('without a drilled backup at 2.22.1 it refuses in one line and changes nothing', async () => {
    const r = await cli(['upgrade', '--to', '2.28.3']);
    expect(r).toMatchObject({ exitCode: 1, stdout: '' });
    expect(r.stderr).toBe(`error: upgrade refused: no backup taken at TimescaleDB 2.22.1 has passed a drill in ${dir}: run aetherlens-db upgrade --backup-first (or aetherlens-db backup, then aetherlens-db verify --latest); nothing was changed`);
    expect([await versionIn('aetherlens'), await versionIn('template1')]).toEqual(['2.22.1', '2.22.1']);
  });

  test('a version the server does not have is refused before anything, naming what to use', async () => {
    const r = await cli(['upgrade', '--to', '2.99.0', '--backup-first']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^error: upgrade refused: TimescaleDB 2\.99\.0 is not installed on this server \(it offers [0-9., ]+\): use the timescale\/timescaledb:2\.99\.0-pg<major> image or install that version; nothing was changed$/);
    expect(await readdir(dir)).toEqual([]);
  });

  test('ALTER EXTENSION UPDATE failing half-way: one line, the backup is proven, the old version and data stay usable', async () => {
    const first = await cli(['backup']);
    expect(first.exitCode, first.stderr).toBe(0);
    expect((await cli(['verify', '--latest'])).exitCode).toBe(0);
    // A leftover the 2.22.1 → 2.28.3 script creates itself, a fifth of the way in: after it has
    // already rebuilt the chunk and continuous aggregate catalogs.
    await withClient(cluster.info, (c) => c.query('CREATE TABLE _timescaledb_internal.tmp_dimension_slice (x int)'));
    const jobsBefore = await jobs();
    const r = await cli(['upgrade', '--to', '2.28.3']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('');
    const last = r.stderr.trim().split('\n').at(-1)!;
    expect(last).toMatch(/^error: upgrade stopped: ALTER EXTENSION timescaledb UPDATE TO '2\.28\.3' failed in database "aetherlens": relation "tmp_dimension_slice" already exists; PostgreSQL rolled it back, the database is still at TimescaleDB 2\.22\.1; nothing was changed; backup \d{8}T\d{6}Z-aetherlens is proven at 2\.22\.1$/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect([await versionIn('aetherlens'), await versionIn('template1')]).toEqual(['2.22.1', '2.22.1']);
    await withClient(cluster.info, (c) => c.query('DROP TABLE _timescaledb_internal.tmp_dimension_slice'));
    expect(compareFingerprints(before, await fingerprintOf(cluster.info))).toEqual([]);
    expect(await jobs()).toEqual(jobsBefore);
    // Usable: new readings go in and the aggregates refresh on 2.22.1.
    await addReadings(cluster.info, 300);
    await withClient(cluster.info, (c) => refreshWaitingOutOthers(c, `CALL refresh_continuous_aggregate('metrics_hourly', NULL, NULL)`));
    before = await fingerprintOf(cluster.info);
  });

  test('with the cause gone: every database with the extension moves to 2.28.3, jobs and inventory hold, the pre-upgrade backup drills on 2.28.3', async () => {
    const jobsBefore = await jobs();
    const r = await cli(['upgrade', '--to', '2.28.3', '--json']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as UpgradeReport;
    console.log(`upgrade 2.22.1 → 2.28.3 (native, seeded 3 days): ${report.seconds.toFixed(1)} s in all; ${report.updated.map((u) => `${u.database} ${u.seconds.toFixed(1)} s`).join(', ')}; drill on 2.28.3 ${report.backup!.drillAfter.seconds.toFixed(1)} s`);
    expect(report).toMatchObject({ before: '2.22.1', after: '2.28.3', ok: true, unchanged: [], inventoryMissing: [], jobs: { problems: [] } });
    expect(report.updated.map((u) => [u.database, u.from, u.to])).toEqual([['aetherlens', '2.22.1', '2.28.3'], ['template1', '2.22.1', '2.28.3']]);
    expect(report.backup!.drillAfter).toMatchObject({ ok: true, timescaledb: { restoredAt: '2.22.1', updatedTo: '2.28.3' } });
    expect(report.rollback[1]).toContain('timescale/timescaledb:2.22.1-pg15');
    expect(report.rollback[2]).toBe(`2. aetherlens-db restore ${report.backup!.id} --yes   (the backup drilled before the upgrade; it restores at 2.22.1)`);
    expect([await versionIn('aetherlens'), await versionIn('template1')]).toEqual(['2.28.3', '2.28.3']);
    const after = await fingerprintOf(cluster.info);
    expect(compareAcrossUpdate(before, after)).toEqual([]);
    expect(await jobs()).toEqual(jobsBefore);
    await withClient(cluster.info, (c) => refreshWaitingOutOthers(c, `CALL refresh_continuous_aggregate('metrics_daily', NULL, NULL)`));
  });

  test('a second run changes nothing and takes no backup', async () => {
    const backups = await readdir(dir);
    const r = await cli(['upgrade', '--to', '2.28.3']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe('TimescaleDB 2.28.3 in every database that has it (aetherlens, template1): nothing to do');
    expect(await readdir(dir)).toEqual(backups);
  });
});
