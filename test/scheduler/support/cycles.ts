import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { listCatalog } from '../../../ops/lib/backup/catalog.js';
import { readStatusFile, type SchedulerStatus } from '../../../ops/lib/scheduler/status.js';

export type Line = { event?: string; [key: string]: unknown };

/** Waits until `lines` holds `count` lines of `event` (the scheduler logs run.end after writing its files). */
export async function waitForEvents(lines: Line[], event: string, count: number, ms = 90_000): Promise<Line[]> {
  const end = Date.now() + ms;
  for (;;) {
    const hits = lines.filter((l) => l.event === event);
    if (hits.length >= count) return hits;
    if (Date.now() > end) throw new Error(`only ${hits.length} of ${count} "${event}" lines within ${ms} ms:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The step.start/step.end sequence of one run, e.g. ["backup", "/backup ok", "drill", …]. */
export function stepSequence(lines: Line[], run: string): string[] {
  return lines.filter((l) => l.run === run && (l.event === 'step.start' || l.event === 'step.end')).map((l) => (l.event === 'step.start' ? String(l.step) : `/${String(l.step)} ${String(l.verdict)}`));
}

/** One sample of a metric in a .prom text (first label set that contains `labels`). */
export function sample(prom: string, name: string, labels = ''): number | undefined {
  const line = prom.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** The backup folders (ids) and whether anything partial or half-deleted is lying around. */
export async function catalogState(dir: string) {
  const catalog = await listCatalog(dir);
  const names = await readdir(dir).catch(() => [] as string[]);
  return {
    ids: catalog.map((e) => `${e.id} ${e.status}`),
    entries: catalog,
    partial: names.filter((n) => n.startsWith('.partial-') || n.startsWith('.deleting-')),
  };
}

/**
 * Checks the status file and the .prom file against the catalog after a run: last attempt,
 * success, verified backup, counters and the metrics that mirror them.
 */
export async function expectFilesAfterRun(options: { statusFile: string; promFile: string; run: Line; runs: number; failures: Partial<Record<'backup' | 'drill' | 'rotate' | 'jobs', number>>; dir: string }): Promise<SchedulerStatus> {
  const status = (await readStatusFile(options.statusFile))!;
  const prom = await readFile(options.promFile, 'utf8');
  const { entries } = await catalogState(options.dir);
  const verified = entries.filter((e) => e.status === 'verified').at(-1);
  expect(status.lastAttempt?.id).toBe(options.run.run);
  expect(status.lastAttempt?.verdict).toBe(options.run.verdict);
  expect(status.counters.runs).toBe(options.runs);
  expect(status.counters.failures).toEqual({ backup: 0, drill: 0, rotate: 0, jobs: status.counters.failures.jobs, ...options.failures });
  expect(status.lastVerified?.name).toBe(verified?.id);
  expect(status.lastVerified?.createdAt).toBe(verified?.createdAt);
  expect(status.lastVerifiedAgeSeconds).toBeGreaterThanOrEqual(0);
  expect(status.lastVerifiedAgeSeconds).toBeLessThan(300);
  expect(sample(prom, 'aetherlens_backup_last_attempt_timestamp_seconds')).toBe(Date.parse(status.lastAttempt!.startedAt) / 1000);
  expect(sample(prom, 'aetherlens_backup_last_run_success')).toBe(options.run.verdict === 'ok' ? 1 : 0);
  expect(sample(prom, 'aetherlens_backup_last_verified_timestamp_seconds')).toBe(Date.parse(verified!.createdAt) / 1000);
  expect(sample(prom, 'aetherlens_backup_last_success_timestamp_seconds')).toBe(Date.parse(status.lastBackup!.createdAt) / 1000);
  expect(sample(prom, 'aetherlens_backup_last_size_bytes')).toBe(status.lastBackup!.bytes);
  expect(sample(prom, 'aetherlens_drill_restore_seconds')).toBe(status.lastDrill!.restoreSeconds);
  expect(sample(prom, 'aetherlens_drill_fingerprint_mismatches_total')).toBe(0);
  for (const step of ['backup', 'drill', 'rotate'] as const) expect(sample(prom, 'aetherlens_backup_failures_total', `step="${step}"`)).toBe(options.failures[step] ?? 0);
  expect(status.nextRuns.backup.length).toBe(3);
  return status;
}

export async function exists(path: string): Promise<boolean> {
  return readFile(path).then(() => true, () => false);
}

export { join };
