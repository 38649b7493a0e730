import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { backup, isOpsError, openTarget, type OpsError } from '../../ops/lib/index.js';
import type { ConnectionInfo } from '../../ops/lib/connection.js';
import { withClient } from '../../ops/lib/pg.js';
import { runCli } from '../support/cli.js';
import { nativeUnavailableReason, PG_BIN, startNativeCluster, type NativeCluster } from '../support/nativeCluster.js';
import { childrenNamed, isAlive, partialDumpOver, snapshotDir, startCli, waitFor } from './support.js';

const skip = nativeUnavailableReason();
const KEEP = '; the partial backup was removed and older backups are untouched';

/** Mounts a small tmpfs (root only); undefined when this machine does not allow it. */
async function mountTmpfs(path: string, size: string): Promise<boolean> {
  await mkdir(path, { recursive: true });
  const r = await execa('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', path], { reject: false });
  return r.exitCode === 0;
}
const canMount = process.getuid?.() === 0;

/**
 * Runs a backup in this process and returns the error it must fail with. The CLI prints exactly
 * `error: <message>` and exits with `exitCode` (tested with the real CLI in the other cases).
 */
async function failure(connection: ConnectionInfo, dir: string, pgBinDir = PG_BIN): Promise<OpsError> {
  const target = await openTarget({ kind: 'server', connection }, { command: 'test', pgBinDir });
  try {
    await backup({ target, dir });
  } catch (error) {
    if (isOpsError(error)) return error;
    throw error;
  }
  throw new Error('the backup did not fail');
}

describe.skipIf(skip)('backup faults on the native server: nothing partial, older backups byte-identical', () => {
  let cluster: NativeCluster;
  let root: string;
  let dir: string;
  let env: Record<string, string>;
  let baseline: Record<string, string>;
  const mounts: string[] = [];

  /** The backup directory holds exactly the older backups, byte for byte, and nothing partial. */
  async function expectUntouched(): Promise<void> {
    expect(await snapshotDir(dir)).toEqual(baseline);
  }

  beforeAll(async () => {
    cluster = await startNativeCluster();
    root = await mkdtemp(join(tmpdir(), 'aetherlens-faults-'));
    dir = join(root, 'backups');
    await withClient(cluster.info, async (c) => {
      await c.query('CREATE EXTENSION timescaledb');
      await c.query('CREATE TABLE metrics (time timestamptz NOT NULL, device int, value float8)');
      await c.query(`SELECT create_hypertable('metrics', 'time')`);
      await c.query(`INSERT INTO metrics SELECT t, 1, random() FROM generate_series(now() - interval '20 days', now(), interval '5 minutes') t`);
      // Enough rows that a dump takes a couple of seconds: time to break it half-way.
      await c.query('CREATE TABLE filler (id int, a text, b text)');
      await c.query('INSERT INTO filler SELECT g, md5(g::text), md5((g * 7)::text) FROM generate_series(1, 1000000) g');
      await c.query('CREATE DATABASE tiny');
    });
    env = { DATABASE_URL: cluster.url, AETHERLENS_BACKUP_DIR: dir, PG_BIN_DIR: PG_BIN };
    const target = await openTarget({ kind: 'server', connection: cluster.info }, { command: 'test', pgBinDir: PG_BIN });
    await backup({ target, dir });
    baseline = await snapshotDir(dir);
    expect(Object.keys(baseline)).toHaveLength(3);
  });

  afterAll(async () => {
    for (const m of mounts) await execa('umount', ['-l', m], { reject: false });
    await cluster?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('kill -9 of pg_dump mid-dump', async () => {
    const cli = startCli(['backup'], env);
    await waitFor('the dump to grow', () => partialDumpOver(dir, 512 * 1024));
    const [pgDump] = await childrenNamed(cli.pid!, 'pg_dump');
    process.kill(pgDump!, 'SIGKILL');
    const r = await cli;
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(`error: backup failed: pg_dump was killed by SIGKILL before it finished${KEEP}`);
    await expectUntouched();
  });

  it('Ctrl-C of the backup command', async () => {
    const cli = startCli(['backup'], env);
    await waitFor('the dump to grow', () => partialDumpOver(dir, 512 * 1024));
    cli.kill('SIGINT');
    const r = await cli;
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe('error: backup interrupted: the partial backup was removed and older backups are untouched');
    await expectUntouched();
  });

  it('wrong password', async () => {
    const error = await failure({ ...cluster.info, password: 'wrong-password' }, dir);
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe(`authentication failed for user "postgres" at postgres://postgres:***@127.0.0.1:${cluster.port}/aetherlens: check the password in DATABASE_URL (or PGPASSWORD)`);
    await expectUntouched();
  });

  it('a host pg_dump of the wrong version', async () => {
    const fake = join(root, 'old-bin');
    await mkdir(fake);
    // A stand-in for PostgreSQL 13's pg_dump; the server stays real.
    await writeFile(join(fake, 'pg_dump'), '#!/bin/sh\nif [ "$1" = --version ]; then echo "pg_dump (PostgreSQL) 13.16"; exit 0; fi\necho "must not be run" >&2; exit 3\n');
    await chmod(join(fake, 'pg_dump'), 0o755);
    const server = await withClient(cluster.info, async (c) => (await c.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v.split(' ')[0]!);
    const error = await failure(cluster.info, dir, fake);
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe(`pg_dump 13.16 (${fake}/pg_dump) cannot back up this PostgreSQL ${server} server: it must be the same major version; install PostgreSQL 15's client tools (${server} or newer; Debian: postgresql-client-15) and set PG_BIN_DIR to their bin directory (e.g. /usr/lib/postgresql/15/bin)`);
    await expectUntouched();
  });

  it('anything on pg_dump\'s stderr beyond the benign TimescaleDB notices', async () => {
    const noisy = join(root, 'noisy-bin');
    await mkdir(noisy);
    // The real pg_dump, plus one warning of the kind that means a dump may not restore.
    await writeFile(join(noisy, 'pg_dump'), `#!/bin/sh\n"${PG_BIN}/pg_dump" "$@"; rc=$?\n[ "$1" = --version ] || echo "pg_dump: warning: could not resolve dependency loop among these items:" >&2\nexit $rc\n`);
    await chmod(join(noisy, 'pg_dump'), 0o755);
    const error = await failure(cluster.info, dir, noisy);
    expect(error.message).toBe(`backup failed: pg_dump reported a problem, so the dump cannot be trusted: pg_dump: warning: could not resolve dependency loop among these items:${KEEP}`);
    await expectUntouched();
  });

  it('a backup directory under a file', async () => {
    await writeFile(join(root, 'a-file'), 'not a directory');
    const bad = join(root, 'a-file', 'backups');
    const error = await failure(cluster.info, bad);
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe(`cannot write backups to ${bad}: part of the path is a file, not a directory: choose another --dir (or AETHERLENS_BACKUP_DIR); nothing was written`);
    await expectUntouched();
  });

  it.skipIf(!canMount)('a read-only backup directory (root ignores chmod: a read-only mount)', async () => {
    const ro = join(root, 'ro');
    expect(await mountTmpfs(ro, '4m')).toBe(true);
    mounts.push(ro);
    const tiny = await openTarget({ kind: 'server', connection: { ...cluster.info, database: 'tiny' } }, { command: 'test', pgBinDir: PG_BIN });
    await backup({ target: tiny, dir: ro });
    await execa('mount', ['-o', 'remount,ro', ro]);
    const before = await snapshotDir(ro);
    expect(Object.keys(before)).toHaveLength(3);
    const error = await failure(cluster.info, ro);
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe(`cannot write backups to ${ro}: it is on a read-only file system: choose another --dir (or AETHERLENS_BACKUP_DIR); nothing was written`);
    expect(await snapshotDir(ro)).toEqual(before);
  });

  it.skipIf(!canMount)('the disk fills during the dump', async () => {
    const small = join(root, 'small');
    expect(await mountTmpfs(small, '4m')).toBe(true);
    mounts.push(small);
    const tiny = await openTarget({ kind: 'server', connection: { ...cluster.info, database: 'tiny' } }, { command: 'test', pgBinDir: PG_BIN });
    await backup({ target: tiny, dir: small });
    const before = await snapshotDir(small);
    expect(Object.keys(before)).toHaveLength(3);
    const error = await failure(cluster.info, small);
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe(`backup failed: the disk holding the backup directory is full (pg_dump could not write: No space left on device)${KEEP}`);
    expect(await snapshotDir(small)).toEqual(before);
  });

  it('two backups started at the same moment', async () => {
    const [a, b] = [startCli(['backup'], env), startCli(['backup'], env)];
    const [ra, rb] = await Promise.all([a, b]);
    const [won, lost, winner] = ra.exitCode === 0 ? [ra, rb, a] : [rb, ra, b];
    expect(won.exitCode).toBe(0);
    expect(lost.exitCode).toBe(1);
    expect(lost.stderr).toMatch(new RegExp(`^error: backup already running \\(pid ${winner.pid}, since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\): wait for it to finish$`));
    const after = await snapshotDir(dir);
    expect(Object.entries(after).filter(([k]) => k in baseline)).toEqual(Object.entries(baseline));
    expect(Object.keys(after).filter((k) => !(k in baseline))).toHaveLength(3); // one new backup: folder, dump, manifest
    baseline = after;
  });

  it('kill -9 of the backup command: the next run takes the lock over and cleans up', async () => {
    const cli = startCli(['backup'], env);
    await waitFor('the dump to grow', () => partialDumpOver(dir, 512 * 1024));
    const [pgDump] = await childrenNamed(cli.pid!, 'pg_dump');
    // pg_dump writes its own file, so it outlives the command; frozen, it surely still runs when
    // the next backup starts.
    process.kill(pgDump!, 'SIGSTOP');
    cli.kill('SIGKILL');
    await cli;
    const leftover = (await readdir(dir)).filter((n) => n.startsWith('.partial-'));
    expect(leftover).toHaveLength(1);

    const next = await runCli(['backup'], env);
    expect(next.stderr.split('\n')).toEqual([
      `warning: stopped pg_dump (pid ${pgDump}) left running by an interrupted backup (pid ${cli.pid})`,
      `removed what interrupted runs left behind: ${leftover[0]}`,
    ]);
    expect(next.exitCode).toBe(0);
    expect(next.stdout).toContain(`removed leftovers of interrupted runs: ${leftover[0]}`);
    await waitFor('the orphan to be reaped', () => (isAlive(pgDump!) ? undefined : true), 5_000);
    const after = await snapshotDir(dir);
    expect(Object.entries(after).filter(([k]) => k in baseline)).toEqual(Object.entries(baseline));
    expect(Object.keys(after).filter((k) => !(k in baseline))).toHaveLength(3);
    expect(Object.keys(after).some((k) => k.startsWith('.'))).toBe(false);
    baseline = after;
  });

  it('the server stops mid-dump', async () => {
    const cli = startCli(['backup'], env);
    await waitFor('the dump to grow', () => partialDumpOver(dir, 512 * 1024));
    // Freeze pg_dump so the server surely stops while it is half-way, then let it notice.
    const [pgDump] = await childrenNamed(cli.pid!, 'pg_dump');
    process.kill(pgDump!, 'SIGSTOP');
    await cluster.kill();
    process.kill(pgDump!, 'SIGCONT');
    try {
      const r = await cli;
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/^error: backup failed: the server closed the connection during the dump \(was it stopped or restarted\?\): pg_dump: error: .+; the partial backup was removed and older backups are untouched$/);
      await expectUntouched();
    } finally {
      await cluster.restart();
    }
  });
});
