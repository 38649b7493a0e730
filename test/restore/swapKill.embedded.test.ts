import { execSync } from 'node:child_process';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SWAP_MARKER } from '../../ops/lib/embedded/swap.js';
import { silentLogger } from '../../ops/lib/logger.js';
import { EMBEDDED_SWAP_STEPS, embeddedSite, type EmbeddedSwapStep } from '../../ops/lib/targets/embedded/restoreSite.js';
import type { SwapResult } from '../../ops/lib/targets/restoreSite.js';
import { runCli } from '../support/cli.js';
import { withEmbedded } from './support.js';

const HARNESS = fileURLToPath(new URL('./swapKill.harness.ts', import.meta.url));

/** Rows of table t: the backup has 100; the live database it replaces has another number. */
const NEW_ROWS = 100;

async function setRows(dataDir: string, rows: number): Promise<void> {
  await withEmbedded(dataDir, (t) => t.engine!.db.exec(`CREATE TABLE IF NOT EXISTS t (id int PRIMARY KEY, v text); DELETE FROM t; INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, ${rows}) g;`));
}

/** What the next open of the data directory finds: the rows of t, or that t is missing (an empty database). */
async function rowsOf(dataDir: string): Promise<number | string> {
  return withEmbedded(dataDir, async (t) => {
    const db = t.engine!.db;
    if (!(await db.query<{ r: string | null }>(`SELECT to_regclass('public.t')::text AS r`)).rows[0]!.r) return 'no table t: an empty database';
    return (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM t')).rows[0]!.n;
  });
}

/** The swap run as the restore runs it, in a child that kills itself (SIGKILL) after `step`. */
function runHarness(dataDir: string, backupDir: string, step: EmbeddedSwapStep | 'none') {
  return execa(process.execPath, ['--import', 'tsx', HARNESS, dataDir, backupDir, step], { reject: false, timeout: 120_000 });
}

const siblings = async (dataDir: string) => (await readdir(dirname(dataDir))).filter((n) => n.startsWith(`${basename(dataDir)}.`)).sort();
const markers = async (dataDir: string) => {
  const found: string[] = [];
  for (const name of await readdir(dataDir)) {
    if (!name.startsWith('pgdata')) continue;
    if ((await readdir(join(dataDir, name))).includes(SWAP_MARKER)) found.push(name);
  }
  return found;
};

/** The steps after which the pointer names the restored PGDATA. */
const AFTER_FLIP = new Set<EmbeddedSwapStep>(['pointed', 'unmarked', 'scratch-removed']);

/**
 * The embedded restore's swap on real files with the real engine: a child process runs it and is
 * killed with SIGKILL after each of its steps. After every kill the next open finds the old data
 * or the restored data (never no database, never an empty one), the next restore's cleanup removes
 * exactly what the interrupted one left, the password and stamp stay, and nothing else is touched.
 */
describe('a kill -9 at any step of the embedded swap', () => {
  let root: string;
  let backups: string;
  /** A data directory as it was made (pgdata, no pointer) with 250 rows, and its password file. */
  let firstLayout: string;
  /** One that was restored into once (a pointer naming pgdata.<stamp>) and then changed to 175 rows. */
  let pointerLayout: string;
  let password: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-swapkill-'));
    backups = join(root, 'backups');
    firstLayout = join(root, 'first', 'db');
    await setRows(firstLayout, NEW_ROWS);
    const made = await runCli(['backup'], { AETHERLENS_EMBEDDED_DIR: firstLayout, AETHERLENS_BACKUP_DIR: backups });
    expect(made.exitCode, made.stderr).toBe(0);
    await setRows(firstLayout, 250);
    password = 'a-password-local-serve-made\n';
    await writeFile(join(firstLayout, 'password'), password, { mode: 0o600 });

    pointerLayout = join(root, 'pointer', 'db');
    await cp(firstLayout, pointerLayout, { recursive: true });
    const swapped = await runHarness(pointerLayout, backups, 'none');
    expect(swapped.exitCode, swapped.stderr).toBe(0);
    await setRows(pointerLayout, 175);
    expect((await readdir(pointerLayout)).sort()).toEqual(['current', 'engine.json', 'password', 'pgdata', expect.stringMatching(/^pgdata\.\d{8}_\d{6}$/)]);
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  // Every step on a directory as the engine made it (what every existing user has); on one that
  // was restored into before, the steps where its pointer is replaced rather than created.
  describe.each([
    ['made by the engine (pgdata, no pointer)', () => firstLayout, 250, EMBEDDED_SWAP_STEPS],
    ['restored into before (a pointer)', () => pointerLayout, 175, ['moved', 'pointer-written', 'pointed'] as const],
  ])('a data directory %s', (_, template, oldRows, steps) => {
    test.each(steps.map((step) => [EMBEDDED_SWAP_STEPS.indexOf(step) + 1, step] as const))('killed after step %i (%s): the old or the restored data opens, and the next restore cleans up', async (n, step) => {
      const dataDir = join(root, `${basename(dirname(template()))}-${n}`, 'db');
      await cp(template(), dataDir, { recursive: true });
      const before = (await readdir(dataDir)).filter((f) => f !== 'serve.owner.json').sort();
      const oldLive = (await readFile(join(dataDir, 'current'), 'utf8').catch(() => 'pgdata')).trim();

      const child = runHarness(dataDir, backups, step);
      const killed = await child;
      expect(killed.signal, killed.stderr).toBe('SIGKILL');

      // The next open, before any cleanup: the old data until the pointer moved, the restored data from then on.
      expect(await rowsOf(dataDir)).toBe(AFTER_FLIP.has(step) ? NEW_ROWS : oldRows);

      // The next restore (or verify) starts by removing what the killed one left, and only that.
      const site = await embeddedSite({ dataDir, purpose: 'drill', command: 'verify' });
      const cleaned = await site.cleanLeftovers(silentLogger);
      await site.close();
      const stamp = /^pgdata\.(\d{8}_\d{6})$/;
      const scratch = `${dataDir}.restore_`;
      const expected = [
        ...(step === 'scratch-removed' ? [] : [expect.stringMatching(new RegExp(`^${scratch}\\d{8}_\\d{6}$`))]),
        ...(step === 'pointer-written' ? [join(dataDir, `current.${child.pid}.tmp`)] : []),
        ...(['moved', 'stamped', 'pointer-written'].includes(step) ? [expect.stringMatching(new RegExp(`^${dataDir}/pgdata\\.\\d{8}_\\d{6}$`))] : []),
      ];
      expect([...cleaned].sort()).toEqual(expected);
      expect(await siblings(dataDir)).toEqual([]);
      expect(await markers(dataDir)).toEqual([]);
      const after = (await readdir(dataDir)).sort();
      if (AFTER_FLIP.has(step)) {
        const live = (await readFile(join(dataDir, 'current'), 'utf8')).trim();
        expect(live).toMatch(stamp);
        expect(live).not.toBe(oldLive);
        expect(after).toEqual([...new Set([...before, 'current', live])].sort());
      } else {
        expect(after).toEqual(before);
        expect((await readFile(join(dataDir, 'current'), 'utf8').catch(() => 'pgdata')).trim()).toBe(oldLive);
      }
      expect(await readFile(join(dataDir, 'password'), 'utf8')).toBe(password);
      await rm(dirname(dataDir), { recursive: true, force: true });
    });
  });

  test('after a kill mid-swap the restore command cleans up, swaps, and its printed rollback and drop steps work', async () => {
    const dataDir = join(root, 'cli', 'db');
    await cp(firstLayout, dataDir, { recursive: true });
    const stamp = await readFile(join(dataDir, 'engine.json'), 'utf8');
    const killed = await runHarness(dataDir, backups, 'moved');
    expect(killed.signal).toBe('SIGKILL');

    const env = { AETHERLENS_EMBEDDED_DIR: dataDir, AETHERLENS_BACKUP_DIR: backups };
    const r = await runCli(['restore', '--latest-unverified', '--yes', '--json'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { live: string; cleaned: string[]; swap: SwapResult };
    expect(report.cleaned).toEqual([expect.stringMatching(/\.restore_\d{8}_\d{6}$/), expect.stringMatching(/\/db\/pgdata\.\d{8}_\d{6}$/)]);
    const restored = (await readFile(join(dataDir, 'current'), 'utf8')).trim();
    const q = (p: string) => `'${p}'`;
    expect(report.swap).toEqual({
      live: dataDir,
      previous: join(dataDir, 'pgdata'),
      stepsWhere: 'in a shell, with nothing using the embedded database (aetherlens-db local stop)',
      rollback: [`printf '%s\\n' 'pgdata' > ${q(`${dataDir}/current.rollback`)} && mv -f ${q(`${dataDir}/current.rollback`)} ${q(`${dataDir}/current`)}`],
      drop: [`if grep -qxF '${restored}' ${q(`${dataDir}/current`)}; then rm -rf ${q(`${dataDir}/pgdata`)}; else echo ${q(`${dataDir}/pgdata is live (rolled back): not removed`)} >&2; fi`],
      terminated: [],
    });
    expect((await readdir(dataDir)).sort()).toEqual(['current', 'engine.json', 'password', 'pgdata', restored]);
    expect(await siblings(dataDir)).toEqual([]);
    expect(await rowsOf(dataDir)).toBe(NEW_ROWS);
    // The directory's own files stay: local serve's password and the engine stamp it was made with.
    expect(await readFile(join(dataDir, 'password'), 'utf8')).toBe(password);
    expect(await readFile(join(dataDir, 'engine.json'), 'utf8')).toBe(stamp);

    // Rolled back: the previous data opens; dropping now removes nothing and says why.
    for (const step of report.swap.rollback) execSync(step, { shell: '/bin/sh' });
    expect(await rowsOf(dataDir)).toBe(250);
    const refused = execSync(`${report.swap.drop[0]} 2>&1`, { shell: '/bin/sh' }).toString();
    expect(refused).toBe(`${dataDir}/pgdata is live (rolled back): not removed\n`);
    expect((await readdir(dataDir)).sort()).toEqual(['current', 'engine.json', 'password', 'pgdata', restored]);

    // Forward again (the pointer back on the restored PGDATA), then the drop removes the previous one.
    await writeFile(join(dataDir, 'current'), `${restored}\n`);
    for (const step of report.swap.drop) execSync(step, { shell: '/bin/sh' });
    expect((await readdir(dataDir)).sort()).toEqual(['current', 'engine.json', 'password', restored]);
    expect(await rowsOf(dataDir)).toBe(NEW_ROWS);
    expect(await readFile(join(dataDir, 'password'), 'utf8')).toBe(password);
  });

  test('a first restore into a new directory: killed before the pointer moved, the directory holds no database and the next restore succeeds', async () => {
    const dataDir = join(root, 'new', 'db');
    const killed = await runHarness(dataDir, backups, 'stamped');
    expect(killed.signal).toBe('SIGKILL');
    const env = { AETHERLENS_EMBEDDED_DIR: dataDir, AETHERLENS_BACKUP_DIR: backups };
    const r = await runCli(['restore', '--latest-unverified', '--yes', '--json'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { cleaned: string[]; swap: SwapResult };
    expect(report.cleaned).toHaveLength(2);
    expect(report.swap).toEqual({ live: dataDir, stepsWhere: expect.any(String), rollback: [], drop: [], terminated: [] });
    expect(await rowsOf(dataDir)).toBe(NEW_ROWS);
    expect(await siblings(dataDir)).toEqual([]);
  });
});
