import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { renderPrometheus, writePrometheusFile } from '../../ops/lib/scheduler/prometheus.js';
import { applyRun, readStatusFile, writeStatusFile, zeroCounters, type RunRecord, type SchedulerStatus } from '../../ops/lib/scheduler/status.js';
import { backupHealth, formatAge } from '../../ops/lib/scheduler/health.js';

const base: SchedulerStatus = {
  format: 1,
  target: 'postgres://app:***@db:5432/aetherlens',
  backupDir: '/srv/backups',
  scheduler: { pid: 1, host: 'h', startedAt: '2026-11-25T00:00:00.000Z', state: 'running', updatedAt: '2026-11-25T00:00:00.000Z' },
  schedule: { backupCron: '0 2 * * *', timezone: 'UTC', jobsCron: null, intervalSeconds: 86400, maxBackupAgeSeconds: 129600 },
  nextRuns: { backup: [], jobs: [] },
  counters: zeroCounters(),
};

const okRun: RunRecord = {
  id: 'r1',
  job: 'backup',
  exitCode: 0,
  trigger: 'schedule',
  startedAt: '2026-11-25T02:00:00.000Z',
  finishedAt: '2026-11-25T02:00:09.000Z',
  seconds: 9,
  verdict: 'ok',
  steps: [
    { step: 'backup', startedAt: '2026-11-25T02:00:00.000Z', seconds: 4.5, verdict: 'ok', backup: 'b1', createdAt: '2026-11-25T02:00:00.100Z', bytes: 123456 },
    { step: 'drill', startedAt: '2026-11-25T02:00:04.500Z', seconds: 4, verdict: 'ok', backup: 'b1', restoreSeconds: 3.25, mismatches: 0 },
    { step: 'rotate', startedAt: '2026-11-25T02:00:08.500Z', seconds: 0.5, verdict: 'ok', deleted: 1 },
  ],
};

const mismatchRun: RunRecord = {
  ...okRun,
  id: 'r2',
  startedAt: '2026-11-26T02:00:00.000Z',
  finishedAt: '2026-11-26T02:00:09.000Z',
  verdict: 'failed',
  exitCode: 1,
  steps: [
    { step: 'backup', startedAt: '2026-11-26T02:00:00.000Z', seconds: 5, verdict: 'ok', backup: 'b2', createdAt: '2026-11-26T02:00:00.100Z', bytes: 200000 },
    { step: 'drill', startedAt: '2026-11-26T02:00:05.000Z', seconds: 4, verdict: 'failed', backup: 'b2', restoreSeconds: 3.5, mismatches: 2, error: 'restore drill of b2 failed: metrics: row count 10 ≠ 11' },
  ],
};

describe('status file and Prometheus textfile', () => {
  test('a good run, then a drill that finds a fingerprint mismatch', () => {
    const one = applyRun(base, okRun);
    expect(one.lastSuccess).toEqual({ at: '2026-11-25T02:00:09.000Z', backup: 'b1', bytes: 123456, seconds: 4.5 });
    expect(one.lastVerified).toEqual({ name: 'b1', createdAt: '2026-11-25T02:00:00.100Z', verifiedAt: '2026-11-25T02:00:08.500Z', bytes: 123456, restoreSeconds: 3.25 });
    const two = applyRun(one, mismatchRun);
    expect(two.lastSuccess).toEqual(one.lastSuccess);
    expect(two.lastVerified).toEqual(one.lastVerified); // b2 was not verified
    expect(two.lastBackup).toMatchObject({ backup: 'b2', bytes: 200000 });
    expect(two.lastError).toEqual({ at: '2026-11-26T02:00:09.000Z', step: 'drill', job: 'backup', message: 'restore drill of b2 failed: metrics: row count 10 ≠ 11' });
    expect(two.counters).toEqual({ runs: 2, failures: { backup: 0, drill: 1, rotate: 0, jobs: 0 }, fingerprintMismatches: 1 });
    expect(renderPrometheus(two)).toMatchInlineSnapshot(`
      "# HELP aetherlens_backup_last_attempt_timestamp_seconds Unix time the last backup run started.
      # TYPE aetherlens_backup_last_attempt_timestamp_seconds gauge
      aetherlens_backup_last_attempt_timestamp_seconds{target="postgres://app:***@db:5432/aetherlens"} 1795658400
      # HELP aetherlens_backup_last_run_success 1 if the last backup run (backup, drill, rotation) succeeded, else 0.
      # TYPE aetherlens_backup_last_run_success gauge
      aetherlens_backup_last_run_success{target="postgres://app:***@db:5432/aetherlens"} 0
      # HELP aetherlens_backup_last_success_timestamp_seconds Unix time the last backup was written successfully.
      # TYPE aetherlens_backup_last_success_timestamp_seconds gauge
      aetherlens_backup_last_success_timestamp_seconds{target="postgres://app:***@db:5432/aetherlens"} 1795658400.1
      # HELP aetherlens_backup_last_size_bytes Size of the last backup written, in bytes.
      # TYPE aetherlens_backup_last_size_bytes gauge
      aetherlens_backup_last_size_bytes{target="postgres://app:***@db:5432/aetherlens"} 200000
      # HELP aetherlens_backup_last_duration_seconds How long the last successful backup took, in seconds.
      # TYPE aetherlens_backup_last_duration_seconds gauge
      aetherlens_backup_last_duration_seconds{target="postgres://app:***@db:5432/aetherlens"} 5
      # HELP aetherlens_backup_last_verified_timestamp_seconds Unix time the newest backup that passed a restore drill was taken.
      # TYPE aetherlens_backup_last_verified_timestamp_seconds gauge
      aetherlens_backup_last_verified_timestamp_seconds{target="postgres://app:***@db:5432/aetherlens"} 1795572000.1
      # HELP aetherlens_drill_restore_seconds Restore time (RTO) measured by the last restore drill, in seconds.
      # TYPE aetherlens_drill_restore_seconds gauge
      aetherlens_drill_restore_seconds{target="postgres://app:***@db:5432/aetherlens"} 3.5
      # HELP aetherlens_drill_last_success 1 if the last restore drill passed, else 0.
      # TYPE aetherlens_drill_last_success gauge
      aetherlens_drill_last_success{target="postgres://app:***@db:5432/aetherlens"} 0
      # HELP aetherlens_backup_failures_total Failed steps since the scheduler was first started with this status file.
      # TYPE aetherlens_backup_failures_total counter
      aetherlens_backup_failures_total{target="postgres://app:***@db:5432/aetherlens",step="backup"} 0
      aetherlens_backup_failures_total{target="postgres://app:***@db:5432/aetherlens",step="drill"} 1
      aetherlens_backup_failures_total{target="postgres://app:***@db:5432/aetherlens",step="rotate"} 0
      aetherlens_backup_failures_total{target="postgres://app:***@db:5432/aetherlens",step="jobs"} 0
      # HELP aetherlens_drill_fingerprint_mismatches_total Restore drills whose data fingerprint did not match the backup manifest.
      # TYPE aetherlens_drill_fingerprint_mismatches_total counter
      aetherlens_drill_fingerprint_mismatches_total{target="postgres://app:***@db:5432/aetherlens"} 1
      # HELP aetherlens_backup_max_age_seconds Age above which the last verified backup counts as stale.
      # TYPE aetherlens_backup_max_age_seconds gauge
      aetherlens_backup_max_age_seconds{target="postgres://app:***@db:5432/aetherlens"} 129600
      "
    `);
  });

  test('before any backup, time metrics are absent (not 0) and label values are escaped', () => {
    const text = renderPrometheus({ ...base, target: 'embedded /data/"odd"\\dir' });
    expect(text).not.toContain('last_success_timestamp');
    expect(text).toContain('aetherlens_backup_failures_total{target="embedded /data/\\"odd\\"\\\\dir",step="backup"} 0');
    // Every sample line is "name{labels} number"; every metric has HELP and TYPE first.
    for (const line of text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) aetherlens_[a-z_]+ .+|aetherlens_[a-z_]+\{.*\} -?[0-9.e+]+)$/);
  });

  test('files are written atomically: no temporary file left, readers see whole JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-status-'));
    const status = applyRun(base, okRun);
    await Promise.all(Array.from({ length: 20 }, (_, i) => writeStatusFile(join(dir, 'status.json'), { ...status, counters: { ...status.counters, runs: i } })));
    await writePrometheusFile(join(dir, 'aetherlens.prom'), status);
    expect((await readdir(dir)).sort()).toEqual(['aetherlens.prom', 'status.json']);
    expect((await readStatusFile(join(dir, 'status.json')))?.lastSuccess?.backup).toBe('b1');
    expect(await readFile(join(dir, 'aetherlens.prom'), 'utf8')).toBe(renderPrometheus(status));
    expect(await readStatusFile(join(dir, 'none.json'))).toBeUndefined();
  });

  test('health: fresh, stale and none, with the limit from the status file or the caller', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-health-'));
    await writeStatusFile(join(dir, 'scheduler-status.json'), applyRun(base, okRun));
    const at = (iso: string) => Date.parse(iso);
    const fresh = await backupHealth({ backupDir: dir, now: at('2026-11-25T20:00:00Z') });
    expect([fresh.ok, fresh.state, fresh.message]).toEqual([true, 'fresh', 'the last verified backup b1 is 18h old (limit 1d 12h)']);
    const stale = await backupHealth({ backupDir: dir, now: at('2026-11-27T03:00:00Z') });
    expect([stale.ok, stale.state, stale.message]).toEqual([false, 'stale', 'the last verified backup b1 is 2d 1h old, older than the limit of 1d 12h: the scheduler is not running, start it']);
    const strict = await backupHealth({ backupDir: dir, now: at('2026-11-25T20:00:00Z'), maxAgeSeconds: 3600 });
    expect(strict.ok).toBe(false);
    const none = await backupHealth({ backupDir: join(dir, 'elsewhere'), now: at('2026-11-25T20:00:00Z') });
    expect([none.ok, none.state, none.message]).toEqual([false, 'none', `no verified backup in ${join(dir, 'elsewhere')} and no scheduler status at ${join(dir, 'elsewhere', 'scheduler-status.json')}: start the scheduler (aetherlens-db schedule) or run aetherlens-db backup and verify`]);
    // The catalog knows a newer verified backup (e.g. a manual verify): it counts.
    const viaCatalog = await backupHealth({ backupDir: dir, now: at('2026-11-27T03:00:00Z'), catalog: async () => ({ name: 'manual', createdAt: '2026-11-27T01:00:00.000Z' }) });
    expect([viaCatalog.ok, viaCatalog.lastVerified?.name]).toEqual([true, 'manual']);
  });

  test.each([
    [5, '5s'],
    [59.6, '60s'],
    [60, '1m'],
    [3660, '1h 1m'],
    [86400, '1d'],
    [93784, '1d 2h'],
  ])('age %d s reads %s', (seconds, text) => expect(formatAge(seconds)).toBe(text));
});
