// Both upgrade paths through the stack on the real Docker engine, as the providers would run them
// (test/support/stackOnEngine.ts): 2.22.1-pg15 → 2.28.3-pg15 (same volume, ALTER EXTENSION) →
// 2.29.2-pg17 (a new volume; the pre-upgrade backup restored into it at 2.28.3, then updated, and
// drilled), with the fingerprint equal and the continuous aggregates refreshing after each step.
// On the way, the faults of a major upgrade, each followed by the rollback (the old image set
// again) that must find the PG15 volume untouched: the new volume's disk filling during the
// carry-over, the new container failing its health check, the carried-over backup failing its drill; and `pulumi up` interrupted after the pre-upgrade backup,
// then run again.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compareAcrossUpdate, findBackup, pgSqlClient, takeFingerprint, type Fingerprint } from '../../ops/lib/index.js';
import { withClient } from '../../ops/lib/pg.js';
import { runCli } from '../support/cli.js';
import { describeDocker, docker, execIn, removeAll, requireTestImage, requireTestImageWith, uniqueName } from '../support/docker.js';
import { freePort } from '../support/nativeCluster.js';
import { createContainer, createVolumeAndNetwork, declare, deleteContainer, firstDeploy, localImages, queryStack, refreshAllAggregates, runCommand, stackDatabase, timescaleVersionIn, type DeclaredStack } from '../support/stackOnEngine.js';

const OLD = 'timescale/timescaledb:2.22.1-pg15';
const MID = 'timescale/timescaledb:2.28.3-pg15';
const NEW = 'timescale/timescaledb:2.29.2-pg17';
/** Room for a new cluster with TimescaleDB in its four databases (about 70 MB); the test fills the rest. */
const SMALL_DISK_MB = 200;
/** What is left free once the new server runs: less than one new database (a copy of template0, ~8 MB, and its WAL). */
const LEFT_FREE_MB = 6;
const PRE_UPGRADE_LINE = /^pre-upgrade backup (\S+) taken and drilled on the running server$/;

describeDocker('pulumi up through both upgrades: 2.22.1-pg15 → 2.28.3-pg15 → 2.29.2-pg17 on the real engine', () => {
  const name = uniqueName('aetherlens-major');
  const pg15Volume = `${name}-data`;
  const pg17Volume = `${name}-data-pg17`;
  const password = `Pw-${Math.random().toString(36).slice(2)}`;
  let raw: Record<string, string>;
  let stack: DeclaredStack;
  let backupDir: string;
  let before: Fingerprint;
  let imageFor: (declared: string) => string;
  const db = () => stackDatabase(stack);
  const query = <T extends Record<string, unknown>>(sql: string, database?: string) => queryStack<T>(stack, sql, database);
  const versionIn = (database: string) => timescaleVersionIn(stack, database);
  const serverMajor = async () => Number((await query<{ n: string }>(`SELECT current_setting('server_version_num') AS n`))[0]!.n.slice(0, 2));
  const fingerprint = () => withClient(db(), (c) => takeFingerprint(pgSqlClient(c)));
  /** The data as it was, and the continuous aggregates refreshing. */
  const expectIntact = async () => {
    expect(compareAcrossUpdate(before, await fingerprint())).toEqual([]);
    await refreshAllAggregates(stack);
  };
  const preUpgrade = async (next: DeclaredStack) => {
    const pre = await runCommand(next, {}, 'preUpgrade');
    expect(pre.stderr).toBe('');
    expect(pre.exitCode).toBe(0);
    return pre.stdout;
  };
  /** Replace the container (deleteBeforeReplace) and run the post-deploy step; seconds of downtime. */
  const replace = async (next: DeclaredStack) => {
    await createVolumeAndNetwork(next);
    const stopped = performance.now();
    await deleteContainer(next);
    await createContainer(next, imageFor);
    const healthy = (performance.now() - stopped) / 1000;
    const post = await runCommand(next);
    return { post, healthy, answering: (performance.now() - stopped) / 1000 };
  };
  /** The rollback runbook's `pulumi config set image <MID> && pulumi up`. */
  const rollBack = async () => {
    stack = await declare({ ...raw, image: MID });
    expect(stack.volume.name).toBe(pg15Volume);
    await preUpgrade(stack);
    const { post } = await replace(stack);
    expect(post.stderr).toBe('');
    expect(post.exitCode).toBe(0);
    expect([await serverMajor(), await versionIn('aetherlens')]).toEqual([15, '2.28.3']);
    await expectIntact();
  };

  beforeAll(async () => {
    imageFor = localImages({
      [OLD]: requireTestImage(),
      [MID]: requireTestImageWith('15', ['2.22.1', '2.28.3']),
      [NEW]: requireTestImageWith('17', ['2.22.1', '2.28.3', '2.29.2']),
    });
    backupDir = await mkdtemp(join(tmpdir(), 'aetherlens-major-backups-'));
    // Seeded once, below: the post-deploy step's seed would add the readings since its last run.
    raw = { dbPassword: password, hostPort: String(await freePort()), containerName: name, volumeName: pg15Volume, memoryMb: '512', backupDir, sampleData: 'false' };
    stack = await declare({ ...raw, image: OLD });
    const first = await firstDeploy(stack, imageFor);
    expect(first.preUpgrade).toEqual({ exitCode: 0, stdout: `first deploy: no container ${name} yet, nothing to back up`, stderr: '' });
    expect(first.postDeploy!.exitCode, first.postDeploy!.stderr).toBe(0);
    const seeded = await runCli(['seed'], { DATABASE_URL: stack.connectionString });
    expect(seeded.exitCode, seeded.stderr).toBe(0);
    before = await fingerprint();
  }, 3_600_000);

  afterAll(async () => {
    await removeAll({ containers: [name], networks: [`${name}-net`], volumes: [pg15Volume, pg17Volume] });
    await rm(backupDir, { recursive: true, force: true });
  });

  it('minor: 2.22.1-pg15 → 2.28.3-pg15 on the same volume', async () => {
    stack = await declare({ ...raw, image: MID });
    expect(stack.volumes.map((v) => v.name)).toEqual([pg15Volume]);
    expect(await preUpgrade(stack)).toMatch(PRE_UPGRADE_LINE);
    const { post, healthy, answering } = await replace(stack);
    expect(post.stderr).toBe('');
    expect(post.exitCode).toBe(0);
    console.log(`minor path: downtime ${healthy.toFixed(1)} s to healthy, ${answering.toFixed(1)} s to post-deploy done`);
    expect([await versionIn('aetherlens'), await versionIn('template1')]).toEqual(['2.28.3', '2.28.3']);
    await expectIntact();
  }, 1_200_000);

  it('fault: the new PostgreSQL 17 container fails its health check: pulumi up fails, and the rollback finds the PG15 volume untouched', async () => {
    const next = await declare({ ...raw, image: NEW });
    expect(next.volume.name).toBe(pg17Volume);
    expect(next.volumes.map((v) => v.name)).toEqual([pg15Volume, pg17Volume]);
    // A health check that never passes, and a short wait (the stack waits 180 s) to keep the test short.
    next.container.healthcheck = { ...(next.container.healthcheck as object), tests: ['CMD', 'false'], startPeriod: '0s', interval: '1s', retries: 1 };
    next.container.waitTimeout = 15;
    await createVolumeAndNetwork(next);
    await deleteContainer(next);
    await expect(createContainer(next, imageFor)).rejects.toThrow('container failed to be in healthy state');
    await rollBack();
  }, 1_200_000);

  it('fault: the pre-upgrade backup fails its drill on PostgreSQL 17: pulumi up fails in one line, nothing is restored, the rollback finds the PG15 volume untouched', async () => {
    const next = await declare({ ...raw, image: NEW });
    const id = PRE_UPGRADE_LINE.exec(await preUpgrade(next))![1]!;
    // The backup's manifest now promises a row the dump does not have: the drill must catch it.
    const manifestPath = join((await findBackup(backupDir, id)).path, 'manifest.json');
    const original = await readFile(manifestPath, 'utf8');
    const manifest = JSON.parse(original) as { fingerprint: { tables: Record<string, { rows: number }> } };
    manifest.fingerprint.tables.devices!.rows += 1;
    await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
    const { post } = await replace(next);
    expect(post.exitCode).toBe(1);
    expect(post.stderr.split('\n')).toHaveLength(1);
    expect(post.stderr).toMatch(new RegExp(`^error: major upgrade stopped: the pre-upgrade backup ${id} failed its drill on PostgreSQL 17\\.\\d+ \\(.*devices.*\\); nothing was restored, the PostgreSQL 15 volume is untouched: set the previous image again to go back to it$`));
    // The new server holds no data of ours: nothing was swapped in.
    expect(await query(`SELECT to_regclass('public.devices') AS r`)).toEqual([{ r: null }]);
    await writeFile(manifestPath, original);
    await rollBack();
  }, 1_200_000);

  it('fault: the disk of the new volume fills during the carry-over: pulumi up fails in one line, the rollback finds the PG15 volume untouched', async () => {
    const next = await declare({ ...raw, image: NEW });
    await preUpgrade(next);
    // The new volume on a small tmpfs: room for the new server's own files, not for the restore.
    const declared = next.volumes.find((v) => v.name === pg17Volume)!;
    const labels = Object.fromEntries((declared.labels as { label: string; value: string }[]).map((l) => [l.label, l.value]));
    // The earlier faults left a PG17 volume holding only a never-migrated cluster; an existing name
    // would make createVolume return it instead of the small one.
    await docker.getVolume(pg17Volume).remove().catch(() => {});
    await docker.createVolume({ Name: pg17Volume, Driver: 'local', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: `size=${SMALL_DISK_MB}m` }, Labels: labels });
    await createVolumeAndNetwork(next);
    await deleteContainer(next);
    const container = await createContainer(next, imageFor);
    // The disk fills: only a few MB stay free for the carry-over's drill and restore (never on any other disk).
    const filled = await execIn(container, ['sh', '-c', `avail=$(df -Pm /var/lib/postgresql/data | awk 'NR==2 {print $4}'); [ "$avail" -le ${SMALL_DISK_MB} ] || { echo "not the small volume ($avail MB free): refusing to fill it"; exit 3; }; dd if=/dev/zero of=/var/lib/postgresql/data/filler bs=1M count=$((avail - ${LEFT_FREE_MB})) 2>&1 && df -Pm /var/lib/postgresql/data`]);
    expect(filled.exitCode, filled.stdout + filled.stderr).toBe(0);
    const post = await runCommand(next);
    expect(post.exitCode).toBe(1);
    expect(post.stderr.split('\n')).toHaveLength(1);
    // Where it fills decides the words (a file PostgreSQL could not extend, WAL it could not write and
    // the server restarting): the line must say the upgrade stopped and the old volume is untouched.
    console.log(`disk full during the carry-over: ${post.stderr}`);
    expect(post.stderr).toMatch(/^error: major upgrade stopped: .*the PostgreSQL 15 volume is untouched: set the previous image again to go back to it$/);
    await rollBack();
    // The operator makes room (here: the small volume goes) before trying again.
    await docker.getVolume(pg17Volume).remove();
    expect((await docker.listVolumes({ filters: { name: [pg17Volume] } })).Volumes ?? []).toEqual([]);
  }, 1_200_000);

  it('major: 2.28.3-pg15 → 2.29.2-pg17 on a new volume, pulumi up interrupted after the pre-upgrade backup and run again: the backup restored at 2.28.3, updated to 2.29.2, drilled; the PG15 volume kept', async () => {
    stack = await declare({ ...raw, image: NEW });
    const id = PRE_UPGRADE_LINE.exec(await preUpgrade(stack))![1]!;
    // Interrupted here (Pulumi may have created the new volume alongside the step): the old server runs on.
    await createVolumeAndNetwork(stack);
    expect((await docker.getContainer(name).inspect()).State.Running).toBe(true);
    expect(await serverMajor()).toBe(15);
    await expectIntact();

    // Run again: the step's state was recorded with the new image, so Pulumi goes on to the replacement.
    const { post, healthy, answering } = await replace(stack);
    expect(post.stderr).toBe('');
    expect(post.exitCode).toBe(0);
    console.log(`major path: downtime ${healthy.toFixed(1)} s to healthy (empty), ${answering.toFixed(1)} s to post-deploy done (data restored, drilled)`);
    expect(await serverMajor()).toBe(17);
    expect([await versionIn('aetherlens'), await versionIn('postgres'), await versionIn('template1')]).toEqual(['2.29.2', '2.29.2', '2.29.2']);
    await expectIntact();
    expect((await findBackup(backupDir, id)).manifest!.verification).toMatchObject({ result: 'passed', timescaledb: { restoredAt: '2.28.3', updatedTo: '2.29.2' } });
    // Only the carried-over database: the empty one the entrypoint made is gone.
    expect((await query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'aetherlens%' ORDER BY 1`, 'postgres')).map((r) => r.datname)).toEqual(['aetherlens']);
    expect((await docker.getVolume(pg15Volume).inspect()).Name).toBe(pg15Volume);
  }, 1_200_000);

  it('a second post-deploy run on PostgreSQL 17 restores nothing again (writes since are kept)', async () => {
    await query(`UPDATE devices SET name = name || ' (after the upgrade)' WHERE device_id = (SELECT min(device_id) FROM devices)`);
    const changed = await fingerprint();
    const post = await runCommand(stack);
    expect(post.exitCode, post.stderr).toBe(0);
    expect(compareAcrossUpdate(changed, await fingerprint())).toEqual([]);
  }, 1_200_000);
});
