import { afterAll, beforeAll, expect, test } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { CLI } from './support/cli.js';

let cwd: string;
beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'aetherlens-quickstart-'));
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

const quickstart = () => execa(process.execPath, [CLI, 'quickstart', '--json'], { cwd, reject: false, extendEnv: false, env: { PATH: process.env.PATH, HOME: process.env.HOME } });

test('the main job runs end to end on the embedded engine, twice, cleanly', async () => {
  const first = await quickstart();
  expect(first.stderr).not.toMatch(/^error:/m);
  expect(first.exitCode).toBe(0);
  const report = JSON.parse(first.stdout);
  expect(report.inventory).toMatchObject({ ok: true, edition: 'timescale', migrationHead: 6 });
  expect(report.seed).toMatchObject({ devices: 3, metricsRows: 3 * 30 * 288 });
  expect(report.jobs.length).toBe(12);
  expect(report.jobs.every((j: { ok: boolean }) => j.ok)).toBe(true);
  // A day of 5-minute readings and a week of hourly buckets; the edges depend on the minute it runs.
  const [raw, hourly] = report.queries.map((q: { rows: number }) => q.rows);
  expect(raw).toBeGreaterThanOrEqual(287);
  expect(raw).toBeLessThanOrEqual(288);
  expect(hourly).toBeGreaterThanOrEqual(167);
  expect(hourly).toBeLessThanOrEqual(168);
  expect(report.compression.compressedChunks).toBeGreaterThan(0);
  expect(report.compression.saved).toBeGreaterThan(0.7);
  expect(report.backup.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(report.drill).toMatchObject({ result: 'passed', differences: [] });
  // The generated admin password is printed once, on stderr, never into the JSON report.
  expect(first.stderr).toMatch(/created user admin with password: \S{12,}/);
  expect(first.stdout).not.toContain('adminPassword');

  const second = await quickstart();
  expect(second.exitCode).toBe(0);
  const again = JSON.parse(second.stdout);
  expect(again.inventory.ok).toBe(true);
  expect(again.drill.result).toBe('passed');
  expect(second.stderr).not.toContain('created user admin');
  const backups = (await readdir(join(cwd, '.aetherlens', 'backups'))).filter((n) => !n.startsWith('.'));
  expect(backups).toHaveLength(2);
}, 300_000);
