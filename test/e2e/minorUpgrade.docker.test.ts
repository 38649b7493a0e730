// `pulumi config set image timescale/timescaledb:2.28.3-pg15 && pulumi up` on the real Docker
// engine, as the providers would run it (test/support/stackOnEngine.ts): the pre-upgrade backup of
// the running 2.22.1 server, the container replaced on the same volume by the 2.28.3 image (which
// also carries 2.22.1, as upstream's does), then the post-deploy step's `aetherlens-db upgrade`.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compareAcrossUpdate, findBackup, pgSqlClient, takeFingerprint, type Fingerprint } from '../../ops/lib/index.js';
import { withClient } from '../../ops/lib/pg.js';
import { runCli } from '../support/cli.js';
import { describeDocker, docker, removeAll, requireTestImage, requireTestImageWith, uniqueName } from '../support/docker.js';
import { freePort } from '../support/nativeCluster.js';
import { createContainer, declare, deleteContainer, firstDeploy, localImages, refreshAllAggregates, runCommand, stackDatabase, timescaleVersionIn, type DeclaredStack } from '../support/stackOnEngine.js';

const OLD = 'timescale/timescaledb:2.22.1-pg15';
const NEW = 'timescale/timescaledb:2.28.3-pg15';

describeDocker('pulumi up with a new minor image: 2.22.1-pg15 → 2.28.3-pg15 on the real engine', () => {
  const name = uniqueName('aetherlens-upgrade');
  const password = `Pw-${Math.random().toString(36).slice(2)}`;
  let raw: Record<string, string>;
  let stack: DeclaredStack;
  let backupDir: string;
  let firstPreUpgrade: { exitCode: number; stdout: string; stderr: string };
  let before: Fingerprint;
  let imageFor: (declared: string) => string;
  const db = () => stackDatabase(stack);
  const versionIn = (database: string) => timescaleVersionIn(stack, database);

  beforeAll(async () => {
    imageFor = localImages({ [OLD]: requireTestImage(), [NEW]: requireTestImageWith('15', ['2.22.1', '2.28.3']) });
    backupDir = await mkdtemp(join(tmpdir(), 'aetherlens-upgrade-backups-'));
    // Seeded once, below: the post-deploy step's seed adds the readings since its last run, which
    // would change the data between the fingerprints this suite compares.
    raw = { dbPassword: password, hostPort: String(await freePort()), containerName: name, volumeName: `${name}-data`, memoryMb: '512', backupDir, sampleData: 'false' };
    stack = await declare({ ...raw, image: OLD });
    const first = await firstDeploy(stack, imageFor);
    firstPreUpgrade = first.preUpgrade;
    expect(first.postDeploy?.exitCode, first.postDeploy?.stderr ?? first.preUpgrade.stderr).toBe(0);
    const seeded = await runCli(['seed'], { DATABASE_URL: stack.connectionString });
    expect(seeded.exitCode, seeded.stderr).toBe(0);
    before = await withClient(db(), (c) => takeFingerprint(pgSqlClient(c)));
  }, 2_700_000);

  afterAll(async () => {
    await removeAll({ containers: [name], networks: [`${name}-net`], volumes: [`${name}-data`] });
    await rm(backupDir, { recursive: true, force: true });
  });

  it('on the first deploy the pre-upgrade step says there is nothing to back up', () => {
    expect(firstPreUpgrade).toEqual({ exitCode: 0, stdout: `first deploy: no container ${name} yet, nothing to back up`, stderr: '' });
  });

  it('a new image: backup drilled on the running 2.22.1 server, container replaced on the same volume, every database upgraded, data and aggregates intact', async () => {
    const next = await declare({ ...raw, image: NEW });
    // Only the image changed, and both steps carry it as a trigger: Pulumi runs them again.
    expect(next.preUpgrade.triggers).toEqual([NEW]);
    expect((next.command.triggers as string[]).at(-1)).toBe(NEW);

    const t0 = performance.now();
    const pre = await runCommand(next, {}, 'preUpgrade');
    expect(pre.stderr).toBe('');
    expect(pre.exitCode).toBe(0);
    const id = /^pre-upgrade backup (\S+) taken and drilled on the running server$/.exec(pre.stdout)?.[1];
    expect(id, pre.stdout).toBeDefined();
    const proven = (await findBackup(backupDir, id!)).manifest!;
    expect(proven.versions.timescaledb).toBe('2.22.1');
    expect(proven.verification).toMatchObject({ result: 'passed' });
    const backupSeconds = (performance.now() - t0) / 1000;

    // deleteBeforeReplace: the old container stops, the new one starts on the same volume.
    const stopped = performance.now();
    await deleteContainer(next);
    await createContainer(next, imageFor);
    const downtime = (performance.now() - stopped) / 1000;
    expect(await versionIn('aetherlens')).toBe('2.22.1');

    const upgradeStarted = performance.now();
    const post = await runCommand(next);
    expect(post.stderr).toBe('');
    expect(post.exitCode).toBe(0);
    const upgradeSeconds = (performance.now() - upgradeStarted) / 1000;
    console.log(`minor upgrade through the stack (sample data): pre-upgrade backup + drill ${backupSeconds.toFixed(1)} s; downtime (old container stopped → new one healthy) ${downtime.toFixed(1)} s; post-deploy with upgrade ${upgradeSeconds.toFixed(1)} s`);

    // The image's init script created the extension in template1, so every database has it.
    expect([await versionIn('aetherlens'), await versionIn('postgres'), await versionIn('template1')]).toEqual(['2.28.3', '2.28.3', '2.28.3']);
    const after = await withClient(db(), (c) => takeFingerprint(pgSqlClient(c)));
    expect(compareAcrossUpdate(before, after)).toEqual([]);
    await refreshAllAggregates(stack);
    // The pre-upgrade backup was drilled again on 2.28.3 by upgrade: restored at 2.22.1, then updated.
    expect((await findBackup(backupDir, id!)).manifest!.verification).toMatchObject({ result: 'passed', timescaledb: { restoredAt: '2.22.1', updatedTo: '2.28.3' } });
  }, 1_200_000);

  it('a second pulumi up with the same image changes nothing: upgrade finds every database at 2.28.3', async () => {
    const r = await runCli(['upgrade', '--container', name], { AETHERLENS_BACKUP_DIR: backupDir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe('TimescaleDB 2.28.3 in every database that has it (aetherlens, postgres, template1): nothing to do');
  });

  it('a stopped container cannot be backed up: the pre-upgrade step fails pulumi up in one line, before anything is replaced', async () => {
    const next = await declare({ ...raw, image: OLD });
    const container = docker.getContainer(name);
    await container.stop();
    try {
      const pre = await runCommand(next, {}, 'preUpgrade');
      expect(pre).toEqual({ exitCode: 1, stdout: '', stderr: `pre-upgrade: container ${name} exists but is not running, so no backup can be taken before it is replaced: start it (docker start ${name}) and run pulumi up again` });
    } finally {
      await container.start();
    }
  });
});
