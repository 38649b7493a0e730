// DONE-WHEN for issue 7 on the embedded target: real migrations and seed data, then several real
// cycles (backup, drill into a scratch data directory, rotation) plus due policy jobs on their own
// ticks. In the middle the data directory is held by another holder (backups fail loudly), then
// released, and the next cycle recovers.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { resolveSettings } from '../../ops/lib/config.js';
import { embeddedPaths } from '../../ops/lib/embedded/layout.js';
import { acquireLock } from '../../ops/lib/fileLock.js';
import { jsonLogger, silentLogger } from '../../ops/lib/logger.js';
import { migrate } from '../../ops/lib/migrations/runner.js';
import { seed } from '../../ops/lib/seed/index.js';
import { realSteps, targetLabel } from '../../ops/lib/scheduler/realSteps.js';
import { startScheduler, type RunningScheduler } from '../../ops/lib/scheduler/scheduler.js';
import { resolveScheduleSettings } from '../../ops/lib/scheduler/settings.js';
import { readStatusFile } from '../../ops/lib/scheduler/status.js';
import { withTarget } from '../../ops/lib/targets/open.js';
import { catalogState, expectFilesAfterRun, stepSequence, type Line } from './support/cycles.js';
import { startReceiver } from './support/receiver.js';

describe('scheduler cycles on the embedded target', () => {
  let dataDir: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let scheduler: RunningScheduler | undefined;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sched-emb-'));
    receiver = await startReceiver();
    // The real schema (roles, hypertables, continuous aggregates, compression and retention
    // policies) with ten days of hourly sample readings, ending before "now" so compression is due.
    await withTarget({ kind: 'embedded', dataDir }, 'test setup', async (target) => {
      await migrate({ connection: target.connection, logger: silentLogger });
      await seed(target.connection, { days: 10, interval: '1h', adminPassword: 'a long test password 1234' }, silentLogger);
    });
  });
  afterAll(async () => {
    await scheduler?.stop('test end');
    await receiver?.close();
  });

  test('due policy jobs run on their own schedule; the status file records them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-emb-jobs-'));
    const settings = resolveSettings({ embeddedDir: dataDir, dir }, {});
    const schedule = resolveScheduleSettings({ cron: '0 3 * * *', jobsCron: '*/2 * * * * *', timezone: 'UTC', catchUp: false }, { env: {}, backupDir: dir, targetKind: 'embedded' });
    const lines: Line[] = [];
    scheduler = await startScheduler({ settings: schedule, steps: realSteps(settings), targetLabel: targetLabel(settings.target), backupDir: dir, logger: jsonLogger((l) => lines.push(JSON.parse(l) as Line)) });
    const jobRuns = () => lines.filter((l) => l.event === 'run.end' && l.kind === 'jobs');
    for (let i = 0; i < 300 && jobRuns().length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    await scheduler.stop('SIGTERM');
    scheduler = undefined;
    expect(jobRuns().slice(0, 2).map((l) => l.verdict)).toEqual(['ok', 'ok']);
    const ran = lines.filter((l) => l.event === 'step.end' && l.step === 'jobs').map((l) => l.jobsRan);
    // The first run finds every policy due (compression, retention, refreshes); the next finds none.
    expect(Number(ran[0])).toBeGreaterThan(0);
    expect(ran[1]).toBe(0);
    const status = (await readStatusFile(schedule.statusFile))!;
    expect(status.lastJobs).toMatchObject({ kind: 'jobs', verdict: 'ok' });
    expect(status.lastAttempt).toBeUndefined(); // no backup ran
    expect(status.counters.failures.jobs).toBe(0);
  });

  test('backup → drill → rotation on every tick, policy jobs between them; a held data directory fails loudly and the next cycle recovers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-emb-backups-'));
    const promFile = join(await mkdtemp(join(tmpdir(), 'sched-prom-')), 'aetherlens.prom');
    const settings = resolveSettings({ embeddedDir: dataDir, dir }, {});
    const schedule = resolveScheduleSettings(
      { cron: '*/15 * * * * *', jobsCron: '7,37 * * * * *', timezone: 'UTC', pingUrl: `${receiver.url}/hc/emb-uuid`, webhookUrl: `${receiver.url}/hook/emb`, promFile, grace: '30s' },
      { env: {}, backupDir: dir, targetKind: 'embedded' },
    );
    const lines: Line[] = [];
    scheduler = await startScheduler({ settings: schedule, steps: realSteps(settings), targetLabel: targetLabel(settings.target), backupDir: dir, logger: jsonLogger((l) => lines.push(JSON.parse(l) as Line)), signalBackoffMs: 100 });
    const files = { statusFile: schedule.statusFile, promFile, dir };
    const backupRuns = () => lines.filter((l) => l.event === 'run.end' && l.kind === 'backup');
    const waitBackupRun = async (n: number) => {
      const end = Date.now() + 120_000;
      while (backupRuns().length < n) {
        if (Date.now() > end) throw new Error(`backup run ${n} did not end:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return backupRuns()[n - 1]!;
    };
    const pings = () => receiver.paths().filter((p) => p.includes('emb-uuid')).map((p) => p.replace('GET /hc/emb-uuid', '') || '/');

    const run1 = await waitBackupRun(1);
    expect(run1).toMatchObject({ trigger: 'catch-up', verdict: 'ok' });
    expect(stepSequence(lines, String(run1.run))).toEqual(['backup', '/backup ok', 'drill', '/drill ok', 'rotate', '/rotate ok']);
    const s1 = await expectFilesAfterRun({ ...files, run: run1, runs: 1, failures: {} });
    expect((await catalogState(dir)).ids).toEqual([`${s1.lastSuccess!.backup} verified`]);
    expect(s1.lastBackup!.backup).toMatch(/^\d{8}T\d{6}Z-embedded$/);

    // Another process holds the embedded data directory: backups (and jobs) cannot open it.
    const holder = await acquireLock(embeddedPaths(dataDir).lock, { command: 'a long maintenance task', describe: () => 'held' });
    let run2: Line;
    try {
      run2 = await waitBackupRun(2);
    } finally {
      await holder.release();
    }
    expect(run2).toMatchObject({ trigger: 'schedule', verdict: 'failed', step: 'backup' });
    expect(run2.error).toBe(`the embedded database ${dataDir} is already open by pid ${process.pid} on ${holder.owner.host} (a long maintenance task, since ${holder.owner.since}): stop it first (aetherlens-db local stop) or use that server`);
    expect(stepSequence(lines, String(run2.run))).toEqual(['backup', '/backup failed']);
    const s2 = await expectFilesAfterRun({ ...files, run: run2, runs: 2, failures: { backup: 1 } });
    expect(s2.lastSuccess).toEqual(s1.lastSuccess);
    expect(s2.lastError).toMatchObject({ step: 'backup', message: run2.error });
    expect(await catalogState(dir)).toMatchObject({ ids: [`${s1.lastSuccess!.backup} verified`], partial: [] });
    await receiver.waitFor((r) => r.some((x) => x.path === '/hook/emb' && x.body.includes('aetherlens.backup.failed')) && pings().includes('/fail'));
    const hook = JSON.parse(receiver.requests.find((r) => r.path === '/hook/emb' && r.body.includes('aetherlens.backup.failed'))!.body) as Record<string, unknown>;
    expect(hook).toMatchObject({ step: 'backup', run: run2.run, target: `embedded ${dataDir}`, lastVerified: { name: s1.lastSuccess!.backup } });

    // Released: the next tick recovers, and rotation removes the first backup.
    const run3 = await waitBackupRun(3);
    expect(run3).toMatchObject({ trigger: 'schedule', verdict: 'ok' });
    expect(stepSequence(lines, String(run3.run))).toEqual(['backup', '/backup ok', 'drill', '/drill ok', 'rotate', '/rotate ok']);
    expect(lines.find((l) => l.run === run3.run && l.step === 'rotate' && l.event === 'step.end')).toMatchObject({ deleted: 1 });
    const s3 = await expectFilesAfterRun({ ...files, run: run3, runs: 3, failures: { backup: 1 } });
    expect((await catalogState(dir)).ids).toEqual([`${s3.lastSuccess!.backup} verified`]);
    await receiver.waitFor(() => pings().length >= 6);
    expect(pings()).toEqual(['/start', '/', '/start', '/fail', '/start', '/']);

    // Policy jobs ticked in between: each tick either ran (nothing is due any more after the
    // previous test) or was skipped with a log line because a backup run was going.
    const jobTicks = lines.filter((l) => l.kind === 'jobs' && (l.event === 'run.end' || l.event === 'run.skipped'));
    expect(jobTicks.length).toBeGreaterThan(0);
    expect(jobTicks.filter((l) => l.event === 'run.skipped').every((l) => l.running === 'backup')).toBe(true);
    expect(s3.nextRuns.jobs).toHaveLength(3);
    const starts = lines.filter((l) => l.event === 'step.start' || l.event === 'run.end' || l.event === 'step.end');
    let open: string | undefined;
    for (const l of starts) {
      if (l.event === 'step.start') {
        if (open && open !== l.run) throw new Error(`run ${String(l.run)} started while ${open} was running`);
        open = String(l.run);
      }
      if (l.event === 'run.end' || (l.event === 'step.end' && l.step === 'jobs')) open = undefined;
    }
    await scheduler.stop('SIGTERM');
    scheduler = undefined;
  });
});
