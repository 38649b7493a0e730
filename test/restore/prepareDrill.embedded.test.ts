// A drill prepared ahead (quickstart starts its scratch engine while it migrates and seeds): the
// scratch copy is used by the run, and removed on every other way out.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backup, migrate, prepareDrill, restoreSitesOf, silentLogger } from '../../ops/lib/index.js';
import { withEmbedded } from './support.js';

const siblings = async (dataDir: string) => (await readdir(dirname(dataDir))).filter((n) => n.startsWith(`${basename(dataDir)}.`)).sort();

describe('a drill prepared ahead on the embedded target', () => {
  let root: string;
  let dataDir: string;
  let backupDir: string;
  const spec = () => ({ kind: 'embedded' as const, dataDir });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-drill-ahead-'));
    dataDir = join(root, 'db');
    backupDir = join(root, 'backups');
    await withEmbedded(dataDir, (t) => migrate({ target: t }));
  }, 120_000);
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('cancelled before its backup exists: the scratch directory it made is gone', async () => {
    const drill = await prepareDrill({ target: restoreSitesOf(spec()), backupDir, logger: silentLogger });
    expect((await siblings(dataDir))[0]).toMatch(/^db\.drill_\d{8}_\d{6}$/);
    await drill.cancel();
    expect(await siblings(dataDir)).toEqual([]);
  }, 120_000);

  test('run on a backup that is not there: one clear error, and nothing left behind', async () => {
    const drill = await prepareDrill({ target: restoreSitesOf(spec()), backupDir, logger: silentLogger });
    await expect(drill.run(join(backupDir, 'no-such-backup'))).rejects.toThrow(/no-such-backup/);
    expect(await siblings(dataDir)).toEqual([]);
  }, 120_000);

  test('run on the backup taken meanwhile: passes in the prepared copy, counts its start in the restore time, runs once', async () => {
    const drill = await prepareDrill({ target: restoreSitesOf(spec()), backupDir, logger: silentLogger });
    const [scratch] = await siblings(dataDir);
    const taken = await withEmbedded(dataDir, (target) => backup({ target, dir: backupDir, logger: silentLogger }));
    const report = await drill.run(taken.path);
    expect(report.ok).toBe(true);
    expect(report.scratch).toBe(join(root, scratch!));
    // The engine's start (its own second or more) is part of the restore time, as in drill().
    expect(report.rtoSeconds).toBeGreaterThan(report.phases.reduce((s, p) => s + p.seconds, 0));
    expect(await siblings(dataDir)).toEqual([]);
    await expect(drill.run(taken.path)).rejects.toThrow(/runs once/);
  }, 240_000);
});
