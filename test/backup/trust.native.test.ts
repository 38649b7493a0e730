// Issue 17, item 1: whoever can write into the backup directory can swap a dump and its manifest,
// so backup, verify and restore refuse a directory (or backup folder, manifest, dump) that anyone
// but its owner may write, or that another user owns. As root, "another user" is anyone but root.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chmod, chown, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Manifest } from '../../ops/lib/index.js';
import { withClient } from '../../ops/lib/pg.js';
import { runCli } from '../support/cli.js';
import { describeNative, PG_BIN, startNativeCluster, type NativeCluster } from '../support/nativeCluster.js';
import { snapshotDir } from './support.js';

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;
const me = asRoot ? 'root (uid 0)' : `uid ${process.getuid?.()}`;

describeNative('a backup directory others can write is refused (native server)', () => {
  let cluster: NativeCluster;
  let root: string;
  let dir: string;
  let id: string;
  let manifest: Manifest;
  const cli = (args: string[], backupDir = dir) => runCli(args, { DATABASE_URL: cluster.url, AETHERLENS_BACKUP_DIR: backupDir, PG_BIN_DIR: PG_BIN }, { timeoutMs: 180_000 });
  const groupWritable = (what: string, path: string, mode: string) =>
    `error: refused: the ${what} ${path} is writable by its group (mode ${mode}), so they could replace a dump and its manifest; run: chmod go-w '${path}'; nothing was changed`;
  const ownedByNobody = (what: string, path: string) =>
    `error: refused: the ${what} ${path} is owned by nobody (uid ${NOBODY}), not by ${me} who runs aetherlens-db, so its owner could replace a dump and its manifest; run (as root): chown -R ${me.split(' ')[0]} '${path}' (or use a backup directory of your own); nothing was changed`;

  beforeAll(async () => {
    cluster = await startNativeCluster();
    await withClient(cluster.info, async (c) => {
      await c.query('CREATE EXTENSION timescaledb');
      await c.query('CREATE TABLE metrics (time timestamptz NOT NULL, device int, value float8)');
      await c.query(`SELECT create_hypertable('metrics', 'time')`);
      await c.query(`INSERT INTO metrics SELECT t, 1, random() FROM generate_series(now() - interval '20 days', now(), interval '5 minutes') t`);
    });
    root = await mkdtemp(join(tmpdir(), 'aetherlens-trust-'));
    dir = join(root, 'backups');
    const made = await cli(['backup', '--json']);
    expect(made.stderr).toBe('');
    manifest = (JSON.parse(made.stdout) as { manifest: Manifest }).manifest;
    id = manifest.id;
  });
  afterAll(async () => {
    await cluster?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('backup refuses a group-writable directory, naming the chmod, and writes nothing', async () => {
    const loose = join(root, 'loose');
    await mkdir(loose);
    await chmod(loose, 0o770);
    const r = await cli(['backup'], loose);
    expect(r.stderr).toBe(groupWritable('backup directory', loose, '770'));
    expect(r.exitCode).toBe(2);
    expect(await readdir(loose)).toEqual([]);
  });

  it.runIf(asRoot)('backup refuses a directory owned by another user, naming the chown, and writes nothing', async () => {
    const theirs = join(root, 'theirs');
    await mkdir(theirs, { mode: 0o700 });
    await chown(theirs, NOBODY, NOBODY);
    const r = await cli(['backup'], theirs);
    expect(r.stderr).toBe(ownedByNobody('backup directory', theirs));
    expect(r.exitCode).toBe(2);
    expect(await readdir(theirs)).toEqual([]);
  });

  it('verify and restore refuse a group-writable directory, backup folder, manifest or dump, and change nothing', async () => {
    const folder = join(dir, id);
    const cases: [string, string, number, number][] = [
      ['backup directory', dir, 0o770, 0o700],
      ['backup folder', folder, 0o770, 0o700],
      ['manifest', join(folder, 'manifest.json'), 0o620, 0o600],
      ['dump', join(folder, manifest.dump.file), 0o620, 0o600],
    ];
    for (const [what, path, loose, tight] of cases) {
      await chmod(path, loose);
      const before = await snapshotDir(dir);
      const verify = await cli(['verify', id]);
      expect(verify.stderr).toBe(groupWritable(what, path, loose.toString(8)));
      expect(verify.exitCode).toBe(2);
      const restore = await cli(['restore', id, '--yes', '--into', 'restored']);
      expect(restore.stderr).toBe(groupWritable(what, path, loose.toString(8)));
      expect(restore.exitCode).toBe(2);
      expect(await snapshotDir(dir)).toEqual(before);
      await chmod(path, tight);
    }
  });

  it.runIf(asRoot)('verify and restore refuse a backup folder owned by another user', async () => {
    const folder = join(dir, id);
    await chown(folder, NOBODY, NOBODY);
    try {
      const verify = await cli(['verify', id]);
      expect(verify.stderr).toBe(ownedByNobody('backup folder', folder));
      expect(verify.exitCode).toBe(2);
      const restore = await cli(['restore', id, '--yes', '--into', 'restored']);
      expect(restore.stderr).toBe(ownedByNobody('backup folder', folder));
      expect(restore.exitCode).toBe(2);
    } finally {
      await chown(folder, 0, 0);
    }
  });

  it('with the permissions fixed as the message says, verify passes', async () => {
    const verify = await cli(['verify', id]);
    expect(verify.stdout.split('\n')[0]).toMatch(new RegExp(`^verify ${id} \\(.+\\): PASSED$`));
    expect(verify.exitCode).toBe(0);
  });
});
