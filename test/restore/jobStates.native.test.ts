import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compareFingerprints, migrate, type Manifest } from '../../ops/lib/index.js';
import { withClient } from '../../ops/lib/pg.js';
import { runCli } from '../support/cli.js';
import { nativeUnavailableReason, PG_BIN, startNativeCluster, type NativeCluster } from '../support/nativeCluster.js';
import { fingerprintOf } from './support.js';
import { serverTargetOf } from '../support/targets.js';

const unavailable = nativeUnavailableReason();

// The timescale/timescaledb image's init script runs `SELECT alter_job(1,scheduled:=false);` (the
// telemetry job) when TIMESCALEDB_TELEMETRY=off. A restore creates the extension afresh, with its
// own jobs scheduled: the drill failed ("job 1 (policy_telemetry): scheduled now") and the restore
// refused, until restored copies were given the source's job states.
describe.skipIf(unavailable)('job states of the extension’s own jobs on a native server', () => {
  let cluster: NativeCluster;
  let dir: string;
  let env: Record<string, string>;
  const cli = (args: string[]) => runCli(args, env);
  const telemetryScheduled = async () => withClient(cluster.info, async (c) =>
    (await c.query<{ scheduled: boolean }>('SELECT scheduled FROM timescaledb_information.jobs WHERE job_id = 1')).rows);

  beforeAll(async () => {
    cluster = await startNativeCluster();
    dir = await mkdtemp(join(tmpdir(), 'aetherlens-job-states-'));
    env = { DATABASE_URL: cluster.url, AETHERLENS_BACKUP_DIR: dir, PG_BIN_DIR: PG_BIN };
    await migrate({ target: await serverTargetOf(cluster.info) });
    await withClient(cluster.info, (c) => c.query('SELECT alter_job(1, scheduled := false)'));
  });
  afterAll(async () => {
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('telemetry unscheduled as the image leaves it: the drill passes, and the restored database keeps it unscheduled', async () => {
    expect(await telemetryScheduled()).toEqual([{ scheduled: false }]);
    const made = await cli(['backup', '--json']);
    expect(made.exitCode).toBe(0);
    const { manifest } = JSON.parse(made.stdout) as { manifest: Manifest };
    expect(manifest.fingerprint.jobs['1']).toMatchObject({ proc: 'policy_telemetry', scheduled: false });

    const verify = await cli(['verify', manifest.id]);
    expect(verify.stdout.split('\n').slice(0, 8).filter((l) => /^ {2}FAIL/.test(l))).toEqual([]);
    expect(verify.stdout.split('\n')[0]).toMatch(new RegExp(`^verify ${manifest.id} \\(.+\\): PASSED$`));
    expect(verify.exitCode).toBe(0);

    const restored = await cli(['restore', manifest.id, '--yes']);
    expect(restored.stderr.split('\n').filter((l) => l.startsWith('error'))).toEqual([]);
    expect(restored.exitCode).toBe(0);
    expect(restored.stdout.split('\n')[0]).toMatch(new RegExp(`^restored backup ${manifest.id} \\(taken .+\\) into "aetherlens" in `));
    expect(await telemetryScheduled()).toEqual([{ scheduled: false }]);
    expect(compareFingerprints(manifest.fingerprint, await fingerprintOf(cluster.info))).toEqual([]);
  });
});
