import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { checkDataDir, embeddedPaths } from '../../ops/lib/embedded/layout.js';
import { cleanSwapLeftovers, swapPgdataIn, SWAP_MARKER, writePointer } from '../../ops/lib/embedded/swap.js';
import { runCli } from '../support/cli.js';

/** A pid that is no process now: one that just exited. */
const deadPid = () => Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).toString());

/** What checkDataDir looks for in a PGDATA (it never opens one). */
async function fakePgdata(dir: string, marker?: object): Promise<void> {
  await mkdir(join(dir, 'global'), { recursive: true });
  await mkdir(join(dir, 'base'));
  await writeFile(join(dir, 'PG_VERSION'), '17\n');
  await writeFile(join(dir, 'global', 'pg_control'), 'x');
  if (marker) await writeFile(join(dir, SWAP_MARKER), JSON.stringify(marker));
}

describe('where an embedded data directory keeps its live PGDATA', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-layout-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('no pointer: pgdata, as every directory made before pointers has; a pointer: the PGDATA it names', async () => {
    expect(embeddedPaths(root).pgdata).toBe(join(root, 'pgdata'));
    await fakePgdata(join(root, 'pgdata'));
    expect(await checkDataDir(root)).toBe('existing');
    await fakePgdata(join(root, 'pgdata.20261120_100005'));
    await writePointer(root, 'pgdata.20261120_100005');
    expect(embeddedPaths(root).pgdata).toBe(join(root, 'pgdata.20261120_100005'));
    expect(await checkDataDir(root)).toBe('existing');
    expect((await readdir(root)).sort()).toEqual(['current', 'pgdata', 'pgdata.20261120_100005']);
  });

  test('a pointer naming a PGDATA that is not there is refused in one line, and nothing is created in its place', async () => {
    await writeFile(join(root, 'current'), 'pgdata.20261120_100005\n');
    await expect(checkDataDir(root)).rejects.toThrow(`the embedded data directory ${root} names pgdata.20261120_100005 as its live database (in ${root}/current), but ${root}/pgdata.20261120_100005 is missing or empty: put it back, or write the name of another PGDATA directory there into ${root}/current; it was not modified`);
    const r = await runCli(['status'], { AETHERLENS_EMBEDDED_DIR: root });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(`error: the embedded data directory ${root} names pgdata.20261120_100005 as its live database (in ${root}/current), but ${root}/pgdata.20261120_100005 is missing or empty: put it back, or write the name of another PGDATA directory there into ${root}/current; it was not modified`);
    expect(await readdir(root)).toEqual(['current']);
  });

  test('a pointer that names no PGDATA directory is refused', async () => {
    await writeFile(join(root, 'current'), '../elsewhere\n');
    await expect(checkDataDir(root)).rejects.toThrow(`the embedded data directory ${root} cannot be opened: its pointer file ${root}/current does not name a PGDATA directory (it holds "../elsewhere\\n"): write the name of the PGDATA directory to use there (e.g. pgdata), or restore a backup; it was not modified`);
  });

  test('the leftovers of interrupted swaps are removed, and only those', async () => {
    const dead = deadPid();
    const here = hostname();
    await fakePgdata(join(root, 'pgdata'));
    await fakePgdata(join(root, 'pgdata.20261120_100000'), { pid: dead, host: here, since: 'x', backup: 'b' });
    await fakePgdata(join(root, 'pgdata.20261120_100001'), { pid: process.pid, host: here, since: 'x', backup: 'b' });
    await fakePgdata(join(root, 'pgdata.20261120_100002'), { pid: dead, host: 'another-host', since: 'x', backup: 'b' });
    await fakePgdata(join(root, 'pgdata.20261120_100003'));
    await fakePgdata(join(root, 'pgdata.by-hand'));
    await writeFile(join(root, `current.${dead}.tmp`), 'pgdata.20261120_100000\n');
    await writeFile(join(root, `current.${process.pid}.tmp`), 'pgdata.20261120_100001\n');
    await writeFile(join(root, 'notes'), 'not ours');
    expect(await cleanSwapLeftovers(root)).toEqual([
      { path: join(root, `current.${dead}.tmp`) },
      { path: join(root, 'pgdata.20261120_100000'), owner: { pid: dead, host: here, since: 'x', backup: 'b' } },
    ]);
    expect((await readdir(root)).sort()).toEqual([`current.${process.pid}.tmp`, 'notes', 'pgdata', 'pgdata.20261120_100001', 'pgdata.20261120_100002', 'pgdata.20261120_100003', 'pgdata.by-hand']);
  });

  test('a live PGDATA whose swap was cut off after the pointer moved loses only its marker', async () => {
    await fakePgdata(join(root, 'pgdata'));
    await fakePgdata(join(root, 'pgdata.20261120_100000'), { pid: deadPid(), host: hostname(), since: 'x', backup: 'b' });
    await writePointer(root, 'pgdata.20261120_100000');
    expect(await cleanSwapLeftovers(root)).toEqual([]);
    expect((await readdir(join(root, 'pgdata.20261120_100000'))).sort()).toEqual(['PG_VERSION', 'base', 'global']);
  });

  test('with an unreadable pointer nothing is removed: which PGDATA is live is unknown', async () => {
    await fakePgdata(join(root, 'pgdata.20261120_100000'), { pid: deadPid(), host: hostname(), since: 'x', backup: 'b' });
    await writeFile(join(root, 'current'), 'garbage/\n');
    expect(await cleanSwapLeftovers(root)).toEqual([]);
    expect((await readdir(root)).sort()).toEqual(['current', 'pgdata.20261120_100000']);
  });

  test('a restore into a directory that holds other files and no database is refused, and nothing moves', async () => {
    await writeFile(join(root, 'notes'), 'not ours');
    const scratch = `${root}.restore_20261120_100005`;
    await fakePgdata(join(scratch, 'pgdata'));
    try {
      await expect(swapPgdataIn({ root, from: join(scratch, 'pgdata'), name: 'pgdata.20261120_100005', stampFrom: join(scratch, 'engine.json'), owner: { pid: process.pid, host: hostname(), since: 'x', backup: 'b' } }))
        .rejects.toThrow(`${root} holds files but no embedded database (no pgdata/PG_VERSION; it holds notes): move them away, then run the restore again; nothing was changed`);
      expect(await readdir(root)).toEqual(['notes']);
      expect((await readdir(join(scratch, 'pgdata'))).sort()).toEqual(['PG_VERSION', 'base', 'global']);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
});
