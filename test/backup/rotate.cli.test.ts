import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli.js';
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
