// Version-aware restore across PostgreSQL majors on the real images: a backup of TimescaleDB 2.22.1
// on PostgreSQL 15 restores into the 2.29.2-pg17 image (which also carries 2.22.1 built for
// PostgreSQL 17): created at 2.22.1, checked, updated to 2.29.2 in a fresh session, checked again.
// The docker target runs the container's own pg_restore (17), the host has only PostgreSQL 15's.
// The other way is refused before anything is created.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compareAcrossUpdate, findBackup, pgSqlClient, takeFingerprint, type Fingerprint } from '../../ops/lib/index.js';
import { connect, withClient } from '../../ops/lib/pg.js';
import { checkRefresh } from '../../ops/lib/restore/checks.js';
import { runCli } from '../support/cli.js';
import { describeDocker, docker, execIn, removeAll, requireTestImage, requireTestImageWith, uniqueName } from '../support/docker.js';
import { freePort } from '../support/nativeCluster.js';
import { createContainer, createVolumeAndNetwork, declare, localImages, refreshAllAggregates, runCommand, stackDatabase, type DeclaredStack } from '../support/stackOnEngine.js';

const PG15 = 'timescale/timescaledb:2.22.1-pg15';
const PG17 = 'timescale/timescaledb:2.29.2-pg17';

describeDocker('version-aware restore from PostgreSQL 15 (TimescaleDB 2.22.1) into PostgreSQL 17 (TimescaleDB 2.29.2) on the real images', () => {
  const oldName = uniqueName('aetherlens-xmajor15');
  const newName = uniqueName('aetherlens-xmajor17');
  let imageFor: (declared: string) => string;
  let oldStack: DeclaredStack;
  let newStack: DeclaredStack;
  let backupDir: string;
  let before: Fingerprint;
  let id: string;
  const fingerprintOf = (stack: DeclaredStack) => withClient(stackDatabase(stack), (c) => takeFingerprint(pgSqlClient(c)));
  const cli = (args: string[], container: string) => runCli([...args, '--container', container], { AETHERLENS_BACKUP_DIR: backupDir });

  /** A stack deployed and migrated (post-deploy without sample data). */
  const deploy = async (name: string, image: string) => {
    const stack = await declare({ image, dbPassword: `Pw-${Math.random().toString(36).slice(2)}`, hostPort: String(await freePort()), containerName: name, volumeName: `${name}-data`, memoryMb: '512', sampleData: 'false' });
    await createVolumeAndNetwork(stack);
    await createContainer(stack, imageFor);
    const post = await runCommand(stack);
    expect(post.exitCode, post.stderr).toBe(0);
    return stack;
  };

  beforeAll(async () => {
    imageFor = localImages({ [PG15]: requireTestImage(), [PG17]: requireTestImageWith('17', ['2.22.1', '2.28.3', '2.29.2']) });
    backupDir = await mkdtemp(join(tmpdir(), 'aetherlens-xmajor-backups-'));
    oldStack = await deploy(oldName, PG15);
    const seeded = await runCli(['seed'], { DATABASE_URL: oldStack.connectionString });
    expect(seeded.exitCode, seeded.stderr).toBe(0);
    before = await fingerprintOf(oldStack);
    const backup = await cli(['backup', '--json'], oldName);
    expect(backup.exitCode, backup.stderr).toBe(0);
    id = (JSON.parse(backup.stdout) as { id: string }).id;
    // The new server as the stack makes it: migrated (its roles exist), no data of its own.
    newStack = await deploy(newName, PG17);
  }, 3_600_000);

  afterAll(async () => {
    await removeAll({ containers: [oldName, newName], networks: [`${oldName}-net`, `${newName}-net`], volumes: [`${oldName}-data`, `${newName}-data-pg17`] });
    await rm(backupDir, { recursive: true, force: true });
  });

  it('the PostgreSQL 17 image carries 2.22.1, 2.28.3 and 2.29.2 (the default), and pg_restore 17', async () => {
    const container = docker.getContainer(newName);
    const versions = await execIn(container, ['psql', '-U', 'aetherlens', '-d', 'aetherlens', '-Atc', `SELECT string_agg(version, ',' ORDER BY version) || ' ' || (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb') FROM pg_available_extension_versions WHERE name = 'timescaledb' AND version IN ('2.22.1', '2.28.3', '2.29.2')`]);
    expect(versions.stdout.trim()).toBe('2.22.1,2.28.3,2.29.2 2.29.2');
    expect((await execIn(container, ['pg_restore', '--version'])).stdout).toMatch(/^pg_restore \(PostgreSQL\) 17\./);
  }, 1_200_000);

  it('a drill on PostgreSQL 17 restores the PG15 dump at 2.22.1, updates it to 2.29.2 and passes', async () => {
    const r = await cli(['verify', id], newName);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect((await findBackup(backupDir, id)).manifest!.verification).toMatchObject({ result: 'passed', timescaledb: { restoredAt: '2.22.1', updatedTo: '2.29.2' } });
  }, 1_200_000);

  it('a restore on PostgreSQL 17 puts the same data in place at 2.29.2, and the continuous aggregates refresh', async () => {
    const r = await cli(['restore', id, '--yes', '--force'], newName);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('restored at 2.22.1 (the dump\'s version), then updated to 2.29.2');
    const after = await fingerprintOf(newStack);
    expect(after.extensions.timescaledb).toBe('2.29.2');
    expect(compareAcrossUpdate(before, after)).toEqual([]);
    await refreshAllAggregates(newStack);
  }, 1_200_000);

  it('on 2.29.2 a refresh overlapping another is refused (55P03); the drill\'s refresh check waits it out', async () => {
    // CI saw a drill fail: the restored copy's refresh policy ran while the drill refreshed. Here
    // the other refresh is held, registered, behind a lock on its catalog row.
    const url = stackDatabase(newStack);
    const holder = await connect(url);
    const other = await connect(url);
    try {
      // Its second transaction locks the aggregate's catalog row, after the window is registered.
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM _timescaledb_catalog.continuous_agg WHERE user_view_name = 'cost_hourly' FOR UPDATE`);
      const otherRefresh = other.query(`CALL refresh_continuous_aggregate('cost_hourly', NULL, NULL)`);
      await expect.poll(async () => (await withClient(url, (c) => c.query(`SELECT count(*)::int AS n FROM _timescaledb_catalog.continuous_aggs_jobs_refresh_ranges`))).rows[0].n, { timeout: 60_000, interval: 200 }).toBe(1);
      const refused = await withClient(url, (c) => c.query(`CALL refresh_continuous_aggregate('cost_hourly', NULL, NULL)`).then(() => null, (e: { code?: string; message: string }) => `${e.code} ${e.message}`));
      expect(refused).toMatch(/^55P03 could not refresh continuous aggregate "cost_hourly" due to a concurrent refresh/);
      const manifest = (await findBackup(backupDir, id)).manifest!;
      const check = withClient(url, (c) => checkRefresh(pgSqlClient(c), manifest, 'full'));
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      await holder.query('COMMIT');
      await otherRefresh;
      const result = await check;
      expect(result.ok, result.detail).toBe(true);
      expect(result.detail).toMatch(/^4 refreshed completely in/);
    } finally {
      await holder.end();
      await other.end().catch(() => undefined);
    }
  }, 1_200_000);

  it('a PostgreSQL 17 backup is refused on PostgreSQL 15 in one line, before anything is created', async () => {
    const backup = await cli(['backup', '--json'], newName);
    expect(backup.exitCode, backup.stderr).toBe(0);
    const newer = (JSON.parse(backup.stdout) as { id: string }).id;
    const r = await cli(['verify', newer], oldName);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(new RegExp(`^error: backup ${newer} comes from PostgreSQL 17\\.\\d+.*, but the server at .* runs PostgreSQL 15\\.\\d+.*: restore it on PostgreSQL 17 or newer; nothing was changed$`));
  }, 1_200_000);
});
