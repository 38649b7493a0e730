import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import {
  cleanAbandoned, findBackup, listCatalog, memoryLogger, readManifest, recordVerification, writeManifest,
  type Manifest,
} from '../../ops/lib/index.js';

const HOST = hostname().replace(/[^A-Za-z0-9.]+/g, '_');

function manifest(id: string, createdAt: string, bytes = 5): Manifest {
  return {
    format: 1,
    id,
    createdAt,
    target: { kind: 'server', label: 'postgres://postgres:***@127.0.0.1:5432/aetherlens', database: 'aetherlens' },
    versions: { server: '15.20', pgDump: '15.20', pgDumpAt: '/usr/bin/pg_dump', timescaledb: '2.22.1', edition: 'timescale', aetherlensDb: '0.1.0' },
    migrationHead: 6,
    dump: { file: 'aetherlens.dump', format: 'custom', compression: 'gzip level 1', bytes, sha256: 'a'.repeat(64) },
    durationSeconds: 1,
    timings: { dump: 1, fingerprint: 0.1, checksum: 0.01 },
    notices: {},
    fingerprint: { format: 1, extensions: {}, tables: {}, hypertables: {}, continuousAggregates: {}, jobs: {}, newestData: null },
    verification: null,
  };
}

async function makeBackup(dir: string, id: string, createdAt: string, dump = 'DUMP!'): Promise<string> {
  const path = join(dir, id);
  await mkdir(path, { recursive: true });
  await writeFile(join(path, 'aetherlens.dump'), dump);
  await writeManifest(path, manifest(id, createdAt));
  return path;
}

/** A pid that existed a moment ago and is gone now. */
async function deadPid(): Promise<number> {
  const child = execa('true');
  await child;
  return child.pid!;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aetherlens-catalog-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('catalog and manifests', () => {
  it('lists backups oldest first, ignoring work folders, locks and foreign names', async () => {
    await makeBackup(dir, '20261125T020000Z-aetherlens', '2026-11-25T02:00:00.000Z');
    await makeBackup(dir, '20261124T020000Z-aetherlens', '2026-11-24T02:00:00.000Z');
    await mkdir(join(dir, `.partial-20261126T020000Z-aetherlens-${HOST}-1`));
    await mkdir(join(dir, 'holiday-photos'));
    await writeFile(join(dir, '.backup-0123456789ab.owner.json'), '{}');
    const catalog = await listCatalog(dir);
    expect(catalog.map((e) => [e.id, e.status])).toEqual([
      ['20261124T020000Z-aetherlens', 'unverified'],
      ['20261125T020000Z-aetherlens', 'unverified'],
    ]);
    expect(catalog[0]!.dumpPath).toBe(join(dir, '20261124T020000Z-aetherlens', 'aetherlens.dump'));
    expect(await listCatalog(join(dir, 'does-not-exist'))).toEqual([]);
  });

  it('records a verification atomically, 0600, and the catalog sees it', async () => {
    const path = await makeBackup(dir, '20261125T020000Z-aetherlens', '2026-11-25T02:00:00.000Z');
    const updated = await recordVerification(path, { verifiedAt: '2026-11-25T03:00:00.000Z', result: 'passed', seconds: 12.5, differences: [], restoreSeconds: 9 });
    expect(updated.verification).toEqual({ verifiedAt: '2026-11-25T03:00:00.000Z', result: 'passed', seconds: 12.5, differences: [], restoreSeconds: 9 });
    expect((await readManifest(path)).verification?.result).toBe('passed');
    expect((await listCatalog(dir))[0]!.status).toBe('verified');
    expect(await readdir(path)).toEqual(['aetherlens.dump', 'manifest.json']);
    expect((await stat(join(path, 'manifest.json'))).mode & 0o777).toBe(0o600);
    await recordVerification(path, { verifiedAt: '2026-11-26T03:00:00.000Z', result: 'failed', seconds: 3, differences: ['table devices: row count 3 → 2'] });
    expect((await listCatalog(dir))[0]!.status).toBe('failed');
  });

  it('marks broken backups and says why', async () => {
    await makeBackup(dir, '20261121T020000Z-aetherlens', '2026-11-21T02:00:00.000Z', 'short');
    await rm(join(dir, '20261121T020000Z-aetherlens', 'aetherlens.dump'));
    await makeBackup(dir, '20261122T020000Z-aetherlens', '2026-11-22T02:00:00.000Z', 'too long!');
    await mkdir(join(dir, '20261123T020000Z-aetherlens'));
    await writeFile(join(dir, '20261123T020000Z-aetherlens', 'manifest.json'), '{"format": 1, "id": ');
    const future = await makeBackup(dir, '20261124T020000Z-aetherlens', '2026-11-24T02:00:00.000Z');
    await writeFile(join(future, 'manifest.json'), JSON.stringify({ ...manifest('x', '2026-11-24T02:00:00.000Z'), format: 2 }));
    await mkdir(join(dir, '20261125T020000Z-aetherlens'));
    const problems = (await listCatalog(dir)).map((e) => `${e.status}: ${e.problem?.replace(dir, 'DIR')}`);
    expect(problems).toMatchInlineSnapshot(`
      [
        "broken: the dump aetherlens.dump is missing",
        "broken: the dump is 9 bytes, the manifest says 5",
        "broken: its manifest is not usable (not valid JSON)",
        "broken: its manifest has format 2, newer than this aetherlens-db reads (1)",
        "broken: it has no manifest.json, so aetherlens-db did not publish it",
      ]
    `);
  });

  it('finds a backup by id, by path, newest, newest verified', async () => {
    const older = await makeBackup(dir, '20261124T020000Z-aetherlens', '2026-11-24T02:00:00.000Z');
    await makeBackup(dir, '20261125T020000Z-aetherlens', '2026-11-25T02:00:00.000Z');
    await recordVerification(older, { verifiedAt: '2026-11-24T03:00:00.000Z', result: 'passed', seconds: 1, differences: [] });
    expect((await findBackup(dir, 'latest')).id).toBe('20261125T020000Z-aetherlens');
    expect((await findBackup(dir, 'latest-verified')).id).toBe('20261124T020000Z-aetherlens');
    expect((await findBackup(dir, '20261125T020000Z-aetherlens')).status).toBe('unverified');
    expect((await findBackup('/elsewhere', older)).id).toBe('20261124T020000Z-aetherlens');
    await expect(findBackup(dir, '20200101T000000Z-nope')).rejects.toThrow(`no backup "20200101T000000Z-nope" in ${dir}: newest: 20261125T020000Z-aetherlens; run aetherlens-db backups to list them`);
  });
});

describe('leftovers of interrupted runs', () => {
  it('removes work folders and temporary files of dead processes only, stopping an orphaned dump program', async () => {
    const dead = await deadPid();
    const abandoned = join(dir, `.partial-20261125T020000Z-aetherlens-${HOST}-${dead}`);
    await mkdir(abandoned);
    await writeFile(join(abandoned, 'aetherlens.dump'), 'half a dump');
    // A "pg_dump" still writing into the abandoned folder: its command line names the folder.
    const orphan = execa(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', join(abandoned, 'aetherlens.dump')], { reject: false });
    await writeFile(join(abandoned, 'owner.json'), JSON.stringify({ pid: dead, host: HOST, since: 'then', toolPid: orphan.pid }));
    const live = join(dir, `.partial-20261125T030000Z-aetherlens-${HOST}-${process.pid}`);
    await mkdir(live);
    const otherHost = join(dir, `.partial-20261125T040000Z-aetherlens-elsewhere-${dead}`);
    await mkdir(otherHost);
    const deleting = join(dir, `.deleting-20261101T020000Z-aetherlens-${HOST}-${dead}`);
    await mkdir(deleting);
    const backup = await makeBackup(dir, '20261124T020000Z-aetherlens', '2026-11-24T02:00:00.000Z');
    await writeFile(join(backup, `manifest.json.tmp-${dead}`), '{');

    const logger = memoryLogger();
    const removed = await cleanAbandoned(dir, logger);
    expect(removed.sort()).toEqual([
      `.deleting-20261101T020000Z-aetherlens-${HOST}-${dead}`,
      `.partial-20261125T020000Z-aetherlens-${HOST}-${dead}`,
      `20261124T020000Z-aetherlens/manifest.json.tmp-${dead}`,
    ]);
    expect((await orphan).signal).toBe('SIGKILL');
    expect(logger.lines[0]).toBe(`warning: stopped pg_dump (pid ${orphan.pid}) left running by an interrupted backup (pid ${dead})`);
    expect((await readdir(dir)).sort()).toEqual([
      `.partial-20261125T030000Z-aetherlens-${HOST}-${process.pid}`,
      `.partial-20261125T040000Z-aetherlens-elsewhere-${dead}`,
      '20261124T020000Z-aetherlens',
    ]);
    expect(await readFile(join(backup, 'aetherlens.dump'), 'utf8')).toBe('DUMP!');
  });
});
