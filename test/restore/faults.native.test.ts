import { cp, mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compareFingerprints, readExtensionVersions, type Fingerprint, type Manifest } from '../../ops/lib/index.js';
import { withClient } from '../../ops/lib/pg.js';
import { runCli } from '../support/cli.js';
import { nativeUnavailableReason, PG_BIN, startNativeCluster, type NativeCluster } from '../support/nativeCluster.js';
import { databases, fingerprintOf, seededServerDatabase, startCli, waitFor } from './support.js';

const unavailable = nativeUnavailableReason();

/**
 * Every fault leaves the live database untouched and usable: its fingerprint is compared with the
 * one taken before the fault, and it answers queries.
 */
describe.skipIf(unavailable)('restore faults on a native server', () => {
  let cluster: NativeCluster;
  let dir: string;
  let env: Record<string, string>;
  let good: Manifest;
  let other: Manifest;
  let live: Fingerprint;

  const cli = (args: string[]) => runCli(args, env, { timeoutMs: 180_000 });
  const manifestOf = async (id: string): Promise<Manifest> => JSON.parse(await readFile(join(dir, id, 'manifest.json'), 'utf8')) as Manifest;

  /** A copy of the good backup under a new id, with `damage` applied to its folder. */
  async function copyOfGood(suffix: string, damage: (folder: string, manifest: Manifest) => Promise<Manifest | void>): Promise<string> {
    const id = `${good.id}-${suffix}`;
    await cp(join(dir, good.id), join(dir, id), { recursive: true });
    const manifest = { ...(await manifestOf(good.id)), id, verification: null };
    const changed = (await damage(join(dir, id), manifest)) ?? manifest;
    await writeFile(join(dir, id, 'manifest.json'), JSON.stringify(changed, null, 2));
    return id;
  }

  async function expectLiveUntouched(): Promise<void> {
    expect(compareFingerprints(live, await fingerprintOf(cluster.info))).toEqual([]);
    expect(await databases(cluster.info)).toEqual(['aetherlens']);
  }

  beforeAll(async () => {
    cluster = await startNativeCluster();
    dir = await mkdtemp(join(tmpdir(), 'aetherlens-restore-faults-'));
    env = { DATABASE_URL: cluster.url, AETHERLENS_BACKUP_DIR: dir, PG_BIN_DIR: PG_BIN };
    // ~600k rows: pg_restore runs for a few seconds, long enough to be hit half-way.
    await seededServerDatabase(cluster.info, { extraRows: 600_000 });
    const a = await cli(['backup', '--json']);
    expect(a.exitCode).toBe(0);
    good = (JSON.parse(a.stdout) as { manifest: Manifest }).manifest;
    await withClient(cluster.info, (c) => c.query(`DELETE FROM metrics WHERE time < now() - interval '31 days'`));
    const b = await cli(['backup', '--json']);
    other = (JSON.parse(b.stdout) as { manifest: Manifest }).manifest;
    live = await fingerprintOf(cluster.info);
  });
  afterAll(async () => {
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a corrupted dump (one byte flipped): the drill fails and says so in the manifest; the restore is refused', async () => {
    const id = await copyOfGood('flipped', async (folder, m) => {
      const file = await open(join(folder, m.dump.file), 'r+');
      const middle = Math.floor(m.dump.bytes / 2);
      const byte = Buffer.alloc(1);
      await file.read(byte, 0, 1, middle);
      byte[0] = byte[0]! ^ 0xff;
      await file.write(byte, 0, 1, middle);
      await file.close();
    });
    const verify = await cli(['verify', id]);
    expect(verify.exitCode).toBe(1);
    const lines = verify.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^verify ${id} \\(.+\\): FAILED$`));
    expect(lines[1]).toMatch(/^ {2}FAIL {2}checksum {14}checksum: the dump's sha256 is [0-9a-f]{64}, the manifest says [0-9a-f]{64} \(damaged, or the manifest belongs to another dump\)$/);
    expect((await manifestOf(id)).verification).toMatchObject({ result: 'failed', differences: [lines[1]!.replace(/^ {2}FAIL {2}checksum {14}/, '')] });

    const restore = await cli(['restore', id, '--yes']);
    expect(restore.exitCode).toBe(1);
    expect(restore.stderr.split('\n')[0]).toBe(`warning: backup ${id} failed its last drill (${lines[1]!.replace(/^ {2}FAIL {2}checksum {14}/, '')}); the restore checks it again`);
    expect(restore.stderr.split('\n')[1]).toMatch(/^error: restore refused: checksum: the dump's sha256 is [0-9a-f]{64}, the manifest says [0-9a-f]{64} \(damaged, or the manifest belongs to another dump\); the live database was not changed$/);
    await expectLiveUntouched();
  });

  test('a truncated dump', async () => {
    const id = await copyOfGood('truncated', (folder, m) => truncate(join(folder, m.dump.file), Math.floor(m.dump.bytes / 2)));
    const half = Math.floor(good.dump.bytes / 2);
    const verify = await cli(['verify', id]);
    expect(verify.exitCode).toBe(1);
    expect(verify.stdout.split('\n')[1]).toBe(`  FAIL  checksum              checksum: the dump is ${half} bytes, the manifest says ${good.dump.bytes} (truncated or replaced)`);
    const restore = await cli(['restore', id, '--yes']);
    expect(restore.stderr).toBe(`error: restore refused: checksum: the dump is ${half} bytes, the manifest says ${good.dump.bytes} (truncated or replaced); the live database was not changed`);
    await expectLiveUntouched();
  });

  test('a manifest that does not belong to the dump: caught by the checksum, and by the fingerprint when the checksum was forged too', async () => {
    const swapped = await copyOfGood('other-dump', (folder, m) => cp(join(dir, other.id, other.dump.file), join(folder, m.dump.file)));
    expect((await cli(['verify', swapped])).stdout.split('\n')[1]).toMatch(/^ {2}FAIL {2}checksum +checksum: the dump is \d+ bytes, the manifest says \d+ \(truncated or replaced\)$/);

    const forged = await copyOfGood('forged', async (folder, m) => {
      await cp(join(dir, other.id, other.dump.file), join(folder, m.dump.file));
      return { ...m, dump: { ...m.dump, bytes: other.dump.bytes, sha256: other.dump.sha256 } };
    });
    const verify = await cli(['verify', forged]);
    expect(verify.exitCode).toBe(1);
    const lines = verify.stdout.split('\n');
    expect(lines[1]).toMatch(/^ {2}ok {4}checksum/);
    expect(lines[2]).toMatch(/^ {2}FAIL {2}fingerprint {11}table metrics: chunk _hyper_1_\d+_chunk (missing \(\d+ rows in the backup\)|row count \d+ → \d+)/);
    expect(lines).toContain('what differs (backup → restored):');
    const restore = await cli(['restore', forged, '--yes']);
    expect(restore.exitCode).toBe(1);
    expect(restore.stderr.split('\n').at(-1)).toMatch(new RegExp(`^error: restore refused: the restored copy does not match backup ${forged}: table metrics: chunk .+ \\(and \\d+ more\\); the live database was not changed$`));
    await expectLiveUntouched();
  });

  test('the wrong TimescaleDB version: refused with the version to run and how to upgrade, compared with what the server offers', async () => {
    const id = await copyOfGood('tsdb-2.18.0', async (_folder, m) => ({ ...m, versions: { ...m.versions, timescaledb: '2.18.0' } }));
    // Every version installed side by side (scripts/install-timescaledb.sh: 2.22.1 and 2.28.3).
    const offered = (await readExtensionVersions(cluster.info, 'postgres')).available.join(', ');
    const message = `error: backup ${id} was taken with TimescaleDB 2.18.0, but the server at postgres://postgres:***@127.0.0.1:${cluster.port}/postgres offers TimescaleDB ${offered}: restore it on a server that has TimescaleDB 2.18.0 (e.g. the timescale/timescaledb:2.18.0-pg15 image or the timescaledb-2-postgresql-15=2.18.0* package), then upgrade there with ALTER EXTENSION timescaledb UPDATE as the first command of a new psql -X session; nothing was changed`;
    const restore = await cli(['restore', id, '--yes']);
    expect(restore).toMatchObject({ exitCode: 1, stderr: message });
    const verify = await cli(['verify', id]);
    expect(verify.exitCode).toBe(1);
    expect(verify.stderr.split('\n').at(-1)).toBe(message);
    // Not the backup's fault: it stays unverified rather than failed.
    expect((await manifestOf(id)).verification).toBeNull();
    await expectLiveUntouched();
  });

  test('kill -9 of the restore half-way: the live database is untouched; the next run removes the leftover', async () => {
    const child = startCli(['restore', good.id, '--yes'], env);
    const scratch = await waitFor('pg_restore loading rows', () => withClient(cluster.info, async (c) => (await c.query<{ datname: string }>(
      `SELECT datname FROM pg_stat_activity WHERE datname LIKE 'aetherlens\\_restore\\_%' AND query LIKE 'COPY%' AND state = 'active'`)).rows[0]?.datname, 'postgres'));
    child.kill('SIGKILL');
    expect((await child).signal).toBe('SIGKILL');
    expect(await databases(cluster.info)).toEqual(['aetherlens', scratch]);
    expect(compareFingerprints(live, await fingerprintOf(cluster.info))).toEqual([]);

    const next = await cli(['verify', good.id]);
    expect(next.exitCode).toBe(0);
    expect(next.stderr.split('\n')[0]).toMatch(new RegExp(`^dropped "${scratch}", left behind by an interrupted restore \\(pid ${child.pid}, since .+\\)$`));
    expect(next.stdout).toContain(`removed leftovers of interrupted runs: ${scratch}`);
    await expectLiveUntouched();
  });

  test('Ctrl-C (SIGINT) during a drill: the scratch database is dropped at once, and the backup is not marked', async () => {
    const id = await copyOfGood('interrupted', async () => {});
    const child = startCli(['verify', id], env);
    const scratch = await waitFor('pg_restore loading rows', () => withClient(cluster.info, async (c) => (await c.query<{ datname: string }>(
      `SELECT datname FROM pg_stat_activity WHERE datname LIKE 'aetherlens\\_drill\\_%' AND query LIKE 'COPY%' AND state = 'active'`)).rows[0]?.datname, 'postgres'));
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(1);
    expect(result.stderr.split('\n').at(-1)).toBe(`error: verify interrupted: the scratch copy ${scratch} was removed; the backup was not marked`);
    await expectLiveUntouched();
    expect((await manifestOf(id)).verification).toBeNull();
  });

  test('the server stopped half-way: a one-line error; after a restart the live database is intact and the leftover is removed', async () => {
    const child = startCli(['restore', good.id, '--yes'], env);
    const scratch = await waitFor('pg_restore loading rows', () => withClient(cluster.info, async (c) => (await c.query<{ datname: string }>(
      `SELECT datname FROM pg_stat_activity WHERE datname LIKE 'aetherlens\\_restore\\_%' AND query LIKE 'COPY%' AND state = 'active'`)).rows[0]?.datname, 'postgres'));
    await cluster.kill();
    const result = await child;
    await cluster.restart();
    expect(result.exitCode).toBe(1);
    const lines = result.stderr.split('\n');
    expect(lines.at(-2)).toMatch(new RegExp(`^warning: could not drop the scratch database "${scratch}" \\(.+\\): drop it by hand with DROP DATABASE "${scratch}" WITH \\(FORCE\\)$`));
    expect(lines.at(-1)).toMatch(/^error: the server closed the connection during the restore \(was it stopped or restarted\?\): .+$/);
    expect(compareFingerprints(live, await fingerprintOf(cluster.info))).toEqual([]);

    const next = await cli(['verify', good.id]);
    expect(next.exitCode).toBe(0);
    expect(next.stdout).toContain(`removed leftovers of interrupted runs: ${scratch}`);
    await expectLiveUntouched();
  });
});
