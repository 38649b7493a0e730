import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { CLI, runCli } from '../support/cli.js';
import { catalog, SIXTY_DAYS, SIXTY_DAYS_KEPT_BY_DEFAULT, writeBackupFolder } from './fixtures.js';
import { snapshotDir } from './support.js';

describe('rotate and backups on a 60-day catalog (the real CLI)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aetherlens-rotate-'));
    for (const entry of catalog(SIXTY_DAYS)) await writeBackupFolder(dir, entry);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('--dry-run prints the plan with a reason for each backup and deletes nothing', async () => {
    const before = await snapshotDir(dir);
    const r = await runCli(['rotate', '--dry-run', '--dir', dir]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('retention: 7 daily, 4 weekly, 12 monthly (only verified backups count)');
    expect(lines.slice(1, 6)).toEqual([
      'keep          20260301T020000Z-aetherlens  unverified  not verified yet: newer than the newest verified backup, waiting for a drill',
      'keep          20260228T020000Z-aetherlens  unverified  not verified yet: newer than the newest verified backup, waiting for a drill',
      'would delete  20260227T020000Z-aetherlens  failed      failed its restore drill',
      'keep          20260226T020000Z-aetherlens  verified    daily 2026-02-26, weekly 2026-W09, monthly 2026-02',
      'would delete  20260225T020000Z-aetherlens  failed      failed its restore drill',
    ]);
    const kept = lines.filter((l) => l.startsWith('keep ')).map((l) => l.split(/\s+/)[1]!.replace('-aetherlens', '')).sort();
    expect(kept).toEqual(SIXTY_DAYS_KEPT_BY_DEFAULT);
    expect(lines.at(-1)).toBe(`dry run: would delete ${catalog(SIXTY_DAYS).length - kept.length} of ${catalog(SIXTY_DAYS).length} backups; nothing was deleted`);
    expect(await snapshotDir(dir)).toEqual(before);
  });

  it('refuses invalid counts with exit 2', async () => {
    const negative = await runCli(['rotate', '--dir', dir, '--keep-daily=-1']);
    expect(negative.exitCode).toBe(2);
    expect(negative.stderr).toBe('error: --keep-daily must be a whole number, 0 or more (got "-1")');
    const zeros = await runCli(['rotate', '--dir', dir], { AETHERLENS_KEEP_DAILY: '0', AETHERLENS_KEEP_WEEKLY: '0', AETHERLENS_KEEP_MONTHLY: '0' });
    expect(zeros.exitCode).toBe(2);
    expect(zeros.stderr).toBe('error: the daily, weekly and monthly keep counts are all 0, which would keep nothing: keep at least one');
  });

  it('deletes exactly what the plan said, failed ones first, and backups lists the rest', async () => {
    const r = await runCli(['rotate', '--dir', dir, '--json']);
    expect(r.exitCode).toBe(0);
    const result = JSON.parse(r.stdout) as { deleted: string[]; dryRun: boolean };
    expect(result.dryRun).toBe(false);
    expect(result.deleted.slice(0, 6).map((id) => id.slice(0, 8))).toEqual(['20260111', '20260121', '20260131', '20260210', '20260225', '20260227']);
    const left = (await readdir(dir)).map((n) => n.replace('-aetherlens', '')).sort();
    expect(left).toEqual(SIXTY_DAYS_KEPT_BY_DEFAULT);

    const listed = await runCli(['backups', '--dir', dir]);
    expect(listed.exitCode).toBe(0);
    const lines = listed.stdout.split('\n');
    expect(lines).toHaveLength(1 + SIXTY_DAYS_KEPT_BY_DEFAULT.length + 1);
    expect(lines[1]).toMatch(/^20260301T020000Z-aetherlens {2}2026-03-01 02:00:00 {2}\d+d( \d+h)?\s+5 B\s+15\.20\s+15\.20\s+2\.22\.1\s+6\s+no$/);
    expect(lines[3]).toMatch(/^20260226T020000Z-aetherlens {2}2026-02-26 02:00:00 .* passed 2026-02-26 03:00:00$/);
    expect(lines.at(-1)).toMatch(new RegExp(`^${SIXTY_DAYS_KEPT_BY_DEFAULT.length} backups in ${dir}, 10 verified \\(newest verified: 20260226T020000Z-aetherlens, \\d+d( \\d+h)? old\\)$`));

    const again = await runCli(['rotate', '--dir', dir]);
    expect(again.stdout.split('\n').at(-1)).toBe(`deleted 0 of ${SIXTY_DAYS_KEPT_BY_DEFAULT.length} backups`);
  });
});

/**
 * Runs the CLI as a user who is not root when we are root (root reads every file, so a permission
 * error needs someone else), else as ourselves.
 */
async function runCliAsUser(args: string[], home: string) {
  const asRoot = process.getuid?.() === 0;
  const [cmd, prefix] = asRoot ? ['runuser', ['-u', 'nobody', '--', process.execPath, CLI]] : [process.execPath, [CLI]];
  const r = await execa(cmd, [...prefix, ...args], { reject: false, extendEnv: false, env: { PATH: process.env.PATH, HOME: home }, timeout: 120_000 });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

describe('rotate keeps what it cannot prove failed (issue 17)', () => {
  let root: string;
  let dir: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-rotate-keep-'));
    dir = join(root, 'backups');
    await mkdir(dir, { mode: 0o700 });
    for (const entry of catalog('vvvvv')) await writeBackupFolder(dir, entry);
    // Older than every verified backup, so today's rotation would delete them as broken.
    const future = await writeBackupFolder(dir, { id: '20251230T020000Z-aetherlens', createdAt: '2025-12-30T02:00:00.000Z', status: 'failed' });
    const manifest = JSON.parse(await readFile(join(future, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(future, 'manifest.json'), JSON.stringify({ ...manifest, format: 2, somethingNew: true }));
    const unreadable = await writeBackupFolder(dir, { id: '20251231T020000Z-aetherlens', createdAt: '2025-12-31T02:00:00.000Z', status: 'failed' });
    if (process.getuid?.() === 0) {
      // Everything belongs to the user rotate runs as, except this one manifest (root's, 0600).
      await execa('chown', ['-R', 'nobody', root]);
      await execa('chown', ['root', join(unreadable, 'manifest.json')]);
    } else {
      await chmod(join(unreadable, 'manifest.json'), 0o000);
    }
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('deletes only the verified backups outside the policy; the future-format and unreadable ones stay, with the reason', async () => {
    const r = await runCliAsUser(['rotate', '--dir', dir, '--keep-daily', '1', '--keep-weekly', '0', '--keep-monthly', '0'], root);
    expect(r.stderr).toBe('deleted 20260101T020000Z-aetherlens: verified, but outside 1 daily / 0 weekly / 0 monthly\n'
      + 'deleted 20260102T020000Z-aetherlens: verified, but outside 1 daily / 0 weekly / 0 monthly\n'
      + 'deleted 20260103T020000Z-aetherlens: verified, but outside 1 daily / 0 weekly / 0 monthly\n'
      + 'deleted 20260104T020000Z-aetherlens: verified, but outside 1 daily / 0 weekly / 0 monthly');
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.filter((l) => l.startsWith('keep'))).toEqual([
      'keep          20260105T020000Z-aetherlens  verified    daily 2026-01-05',
      'keep          20251231T020000Z-aetherlens  broken      cannot tell what it is, so it is kept: its manifest is not usable (EACCES: this user may not read it); look at it, and delete it by hand if it is not needed',
      'keep          20251230T020000Z-aetherlens  broken      cannot tell what it is, so it is kept: its manifest has format 2, newer than this aetherlens-db reads (1); look at it, and delete it by hand if it is not needed',
    ]);
    expect((await readdir(dir)).filter((n) => !n.startsWith('.')).sort()).toEqual(['20251230T020000Z-aetherlens', '20251231T020000Z-aetherlens', '20260105T020000Z-aetherlens']);
    expect(JSON.parse(await readFile(join(dir, '20251230T020000Z-aetherlens', 'manifest.json'), 'utf8'))).toMatchObject({ format: 2, somethingNew: true });
  });
});
