import { execSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compareFingerprints, migrate, pgliteSqlClient, takeFingerprint, type Fingerprint } from '../../ops/lib/index.js';
import { runCli } from '../support/cli.js';
import { embeddedFingerprintOf, withEmbedded } from './support.js';

/** Whether this process may mount a tmpfs (root, and a kernel that allows it here). */
function canMountTmpfs(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = join(tmpdir(), `aetherlens-tmpfs-probe-${process.pid}`);
  try {
    execSync(`mkdir -p '${probe}' && mount -t tmpfs -o size=1m tmpfs '${probe}' && umount '${probe}' && rmdir '${probe}'`, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const bytesOf = (dir: string) => Number(execSync(`du -sb '${dir}'`).toString().split('\t')[0]);

/** The disk holding the data fills while the restore loads rows: a small tmpfs, mounted here. */
describe.skipIf(!canMountTmpfs())('the disk filling during an embedded restore', () => {
  let root: string;
  let mount: string;
  let source: string;
  let before: Fingerprint;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-restore-full-'));
    source = join(root, 'db');
    // ~130k uncompressed readings: the restore needs tens of MB beyond a fresh engine.
    before = await withEmbedded(source, async (t) => {
      await migrate({ target: t, to: 3 });
      await t.engine!.db.exec(`INSERT INTO devices (device_id, name, device_type) VALUES ('meter-01', 'Meter', 'energy_monitor');
        INSERT INTO metrics (time, device_id, power_deciwatts, energy_milliwatt_hours, voltage_decivolts, state)
        SELECT t, 'meter-01', 1000 + (extract(epoch FROM t)::bigint % 7000), 1000, 2300, 'on'
          FROM generate_series(now() - interval '90 days', now(), interval '1 minute') t`);
      return takeFingerprint(pgliteSqlClient(t.engine!.db));
    });
    expect((await runCli(['backup'], { AETHERLENS_EMBEDDED_DIR: source, AETHERLENS_BACKUP_DIR: join(root, 'backups') })).exitCode).toBe(0);
    mount = join(root, 'small');
    await mkdir(mount);
  });
  afterAll(async () => {
    execSync(`umount '${mount}' 2>/dev/null || true`);
    await rm(root, { recursive: true, force: true });
  });

  test('a one-line error, no scratch directory left, the live database intact', async () => {
    // Room for the live directory, a fresh engine (~32 MB) and half of the restored rows.
    const live = bytesOf(source);
    const fresh = 32 * 1048576;
    execSync(`mount -t tmpfs -o size=${Math.ceil((live * 1.05 + fresh + (live - fresh) / 2) / 1048576)}m tmpfs '${mount}'`);
    const dataDir = join(mount, 'db');
    await cp(source, dataDir, { recursive: true });
    const r = await runCli(['restore', '--latest-unverified', '--yes'], { AETHERLENS_EMBEDDED_DIR: dataDir, AETHERLENS_BACKUP_DIR: join(root, 'backups') });
    expect(r.stderr.split('\n').at(-1)).toMatch(new RegExp(`^error: the disk holding ${mount} filled up during the restore \\(.*No space left on device\\): free space there \\(the restore needs about the database's size again\\), then run it again$`));
    expect(r.exitCode).toBe(1);
    expect(await readdir(mount)).toEqual(['db']);
    expect(compareFingerprints(before, await embeddedFingerprintOf(dataDir))).toEqual([]);
  });
});
