// DONE-WHEN for issue 7 on a native server: the scheduler runs several real cycles (backup, drill,
// rotation) on fast cron ticks; after each the status and .prom files are checked; the server is
// stopped in the middle (a failure: /fail and the webhook) and the next cycle recovers.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Manifest } from '../../ops/lib/backup/manifest.js';
import { resolveSettings } from '../../ops/lib/config.js';
import { connectionUrl, type ConnectionInfo } from '../../ops/lib/connection.js';
import { jsonLogger } from '../../ops/lib/logger.js';
import { realSteps, targetLabel, targetSecrets } from '../../ops/lib/scheduler/realSteps.js';
import { startScheduler, type RunningScheduler } from '../../ops/lib/scheduler/scheduler.js';
import { resolveScheduleSettings } from '../../ops/lib/scheduler/settings.js';
import { nativeUnavailableReason, PG_BIN, startNativeCluster, type NativeCluster } from '../support/nativeCluster.js';
import { addReadings, createSmallDatabase } from './support/fixtures.js';
import { startReceiver } from './support/receiver.js';
import { catalogState, expectFilesAfterRun, stepSequence, waitForEvents, type Line } from './support/cycles.js';

const unavailable = nativeUnavailableReason();

describe.skipIf(unavailable)('scheduler cycles on a native PostgreSQL 15 + TimescaleDB', () => {
  let cluster: NativeCluster;
  let db: ConnectionInfo;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let scheduler: RunningScheduler | undefined;
  beforeAll(async () => {
    cluster = await startNativeCluster();
    db = await createSmallDatabase(cluster.info, 'sched_cycles');
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await scheduler?.stop('test end');
    await receiver?.close();
    await cluster?.stop();
  });

  test('backup → drill → rotation in order on every tick; a server outage is signalled and the next cycle recovers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-cycles-'));
    const promFile = join(await mkdtemp(join(tmpdir(), 'sched-prom-')), 'aetherlens.prom');
    const settings = resolveSettings({ databaseUrl: connectionUrl(db), dir }, { PG_BIN_DIR: PG_BIN });
    const schedule = resolveScheduleSettings(
      { cron: '*/8 * * * * *', timezone: 'UTC', pingUrl: `${receiver.url}/hc/native-uuid`, webhookUrl: `${receiver.url}/hook/native`, promFile, grace: '10s' },
      { env: {}, backupDir: dir, targetKind: 'server' },
    );
    const lines: Line[] = [];
    const raw: string[] = [];
    scheduler = await startScheduler({
      settings: schedule,
      steps: realSteps(settings),
      targetLabel: targetLabel(settings.target),
      backupDir: dir,
      logger: jsonLogger((l) => (raw.push(l), lines.push(JSON.parse(l) as Line))),
      secrets: targetSecrets(settings.target),
      signalBackoffMs: 100,
    });
    const files = { statusFile: schedule.statusFile, promFile, dir };
    const pings = () => receiver.paths().filter((p) => p.includes('native-uuid')).map((p) => p.replace('GET /hc/native-uuid', '') || '/');

    // Cycle 1: the catch-up at start (no verified backup yet).
    const [run1] = await waitForEvents(lines, 'run.end', 1);
    expect(run1).toMatchObject({ trigger: 'catch-up', verdict: 'ok' });
    expect(stepSequence(lines, String(run1!.run))).toEqual(['backup', '/backup ok', 'drill', '/drill ok', 'rotate', '/rotate ok']);
    const s1 = await expectFilesAfterRun({ ...files, run: run1!, runs: 1, failures: {} });
    expect((await catalogState(dir)).ids).toEqual([`${s1.lastSuccess!.backup} verified`]);
    // The drill had something to check: the aggregate, its rows and its policy jobs.
    const verified = JSON.parse(await readFile(join(dir, s1.lastSuccess!.backup, 'manifest.json'), 'utf8')) as Manifest;
    expect(verified.fingerprint.continuousAggregates.metrics_hourly!.materializedRows).toBeGreaterThan(0);
    const checks = verified.verification!.checks as { name: string; ok: boolean; detail: string }[];
    expect(checks.filter((c) => ['jobs', 'continuous aggregates', 'refresh'].includes(c.name))).toEqual([
      { name: 'jobs', ok: true, detail: expect.stringMatching(/^\d+ jobs present and scheduled$/) },
      { name: 'continuous aggregates', ok: true, detail: '1 present' },
      { name: 'refresh', ok: true, detail: expect.stringMatching(/^1 refreshed completely in \d+\.\d s$/) },
    ]);
    await receiver.waitFor(() => pings().length >= 2);
    expect(pings()).toEqual(['/start', '/']);

    // Cycle 2: a cron tick; rotation (7 daily / 4 weekly / 12 monthly, all today) keeps only the newest.
    await addReadings(db, '2026-10-23');
    const [, run2] = await waitForEvents(lines, 'run.end', 2);
    expect(run2).toMatchObject({ trigger: 'schedule', verdict: 'ok' });
    expect(stepSequence(lines, String(run2!.run))).toEqual(['backup', '/backup ok', 'drill', '/drill ok', 'rotate', '/rotate ok']);
    expect(lines.find((l) => l.run === run2!.run && l.step === 'rotate' && l.event === 'step.end')).toMatchObject({ deleted: 1 });
    const s2 = await expectFilesAfterRun({ ...files, run: run2!, runs: 2, failures: {} });
    expect(s2.lastSuccess!.backup).not.toBe(s1.lastSuccess!.backup);
    expect((await catalogState(dir)).ids).toEqual([`${s2.lastSuccess!.backup} verified`]);

    // Cycle 3: the server is down at backup time.
    await cluster.kill();
    const [, , run3] = await waitForEvents(lines, 'run.end', 3);
    expect(run3).toMatchObject({ trigger: 'schedule', verdict: 'failed', step: 'backup' });
    expect(run3!.error).toBe(`nothing is listening at 127.0.0.1:${cluster.port}: start the server or fix the host/port in DATABASE_URL`);
    expect(stepSequence(lines, String(run3!.run))).toEqual(['backup', '/backup failed']);
    const s3 = await expectFilesAfterRun({ ...files, run: run3!, runs: 3, failures: { backup: 1 } });
    expect(s3.lastSuccess).toEqual(s2.lastSuccess);
    expect(s3.lastError).toMatchObject({ step: 'backup', message: run3!.error });
    expect(await catalogState(dir)).toMatchObject({ ids: [`${s2.lastSuccess!.backup} verified`], partial: [] });
    await receiver.waitFor((r) => r.some((x) => x.path === '/hook/native') && pings().includes('/fail'));
    const hook = JSON.parse(receiver.requests.find((r) => r.path === '/hook/native')!.body) as Record<string, unknown>;
    expect(hook).toMatchObject({ event: 'aetherlens.backup.failed', step: 'backup', run: run3!.run, trigger: 'schedule', target: `postgres://postgres:***@127.0.0.1:${cluster.port}/sched_cycles`, lastVerified: { name: s2.lastSuccess!.backup } });
    expect(pings()).toEqual(['/start', '/', '/start', '/', '/start', '/fail']);

    // Cycle 4: the server is back; the next tick recovers.
    await cluster.restart();
    const run4 = (await waitForEvents(lines, 'run.end', 4))[3]!;
    expect(run4).toMatchObject({ trigger: 'schedule', verdict: 'ok' });
    expect(stepSequence(lines, String(run4.run))).toEqual(['backup', '/backup ok', 'drill', '/drill ok', 'rotate', '/rotate ok']);
    const s4 = await expectFilesAfterRun({ ...files, run: run4, runs: 4, failures: { backup: 1 } });
    expect((await catalogState(dir)).ids).toEqual([`${s4.lastSuccess!.backup} verified`]);
    await receiver.waitFor(() => pings().length >= 8);
    expect(pings()).toEqual(['/start', '/', '/start', '/', '/start', '/fail', '/start', '/']);
    expect(receiver.requests.filter((r) => r.path === '/hook/native')).toHaveLength(1);

    await scheduler.stop('SIGTERM');
    scheduler = undefined;
    // No line ever carried the password.
    expect(raw.join('\n')).not.toContain(db.password!);
    expect(lines.filter((l) => l.event === 'run.skipped').every((l) => l.running === 'backup')).toBe(true);
  });

  test('DST: on the spring-forward night a 02:30 Europe/Berlin backup runs once, at 03:00, as a real backup; a hanging ping does not hold it up', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-dst-'));
    receiver.set('/hc/dst-uuid/start', 'hang');
    const settings = resolveSettings({ databaseUrl: connectionUrl(db), dir }, { PG_BIN_DIR: PG_BIN });
    const schedule = resolveScheduleSettings(
      { cron: '30 2 * * *', timezone: 'Europe/Berlin', catchUp: false, pingUrl: `${receiver.url}/hc/dst-uuid` },
      { env: {}, backupDir: dir, targetKind: 'server' },
    );
    // The injected clock starts at 2026-03-29 00:59:56 UTC (01:59:56 CET) when the scheduler first
    // reads it, four seconds before the jump (room for start-up on a busy CI machine).
    let offset: number | undefined;
    const clock = { now: () => Date.now() + (offset ??= Date.parse('2026-03-29T00:59:56.000Z') - Date.now()) };
    const lines: Line[] = [];
    scheduler = await startScheduler({ settings: { ...schedule, signalTimeoutMs: 500 }, steps: realSteps(settings), targetLabel: targetLabel(settings.target), backupDir: dir, logger: jsonLogger((l) => lines.push(JSON.parse(l) as Line)), clock, signalBackoffMs: 50 });
    expect(scheduler.status().nextRuns.backup.slice(0, 2)).toEqual([
      { at: '2026-03-29T01:00:00.000Z', reason: 'dst-gap' },
      { at: '2026-03-30T00:30:00.000Z', reason: 'cron' },
    ]);
    const [run] = await waitForEvents(lines, 'run.end', 1);
    expect(run).toMatchObject({ trigger: 'dst-gap', verdict: 'ok' });
    expect(stepSequence(lines, String(run!.run))).toEqual(['backup', '/backup ok', 'drill', '/drill ok', 'rotate', '/rotate ok']);
    // Exactly once: nothing else runs in the next seconds, and the plan moved on to the next night.
    await new Promise((r) => setTimeout(r, 2500));
    expect(lines.filter((l) => l.event === 'run.start')).toHaveLength(1);
    expect(scheduler.status().nextRuns.backup[0]).toEqual({ at: '2026-03-30T00:30:00.000Z', reason: 'cron' });
    // The hanging /start ping was given up on (3 attempts × 500 ms) while the backup went on.
    await waitForEvents(lines, 'signal.failed', 1, 10_000);
    expect(lines.find((l) => l.event === 'signal.failed')).toMatchObject({ signal: 'ping start', to: `${receiver.url}/…`, error: 'no answer within 500 ms', attempts: 3 });
    expect((await catalogState(dir)).ids).toHaveLength(1);
    await scheduler.stop('SIGTERM');
    scheduler = undefined;
  });
});
