// The scheduler core through its Steps interface: single flight, catch-up, shutdown, the lock
// and the status file. Steps here are small real file writers with gates the test opens, so the
// timing is deterministic; the real backup/drill/rotation chain runs in scheduler.*.test.ts.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { jsonLogger } from '../../ops/lib/logger.js';
import { startScheduler, type RunningScheduler } from '../../ops/lib/scheduler/scheduler.js';
import { resolveScheduleSettings } from '../../ops/lib/scheduler/settings.js';
import { readStatusFile } from '../../ops/lib/scheduler/status.js';
import type { Steps, StepContext, VerifiedBackup } from '../../ops/lib/scheduler/steps.js';
import { startReceiver } from './support/receiver.js';

type Gate = { open: () => void; wait: Promise<void> };
const gate = (): Gate => {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { open, wait };
};

/** Steps that write a real file per backup; each backup waits for `hold` (when set) or its abort. */
function fileSteps(dir: string) {
  const state = { running: 0, maxRunning: 0, backups: [] as string[], aborted: 0, hold: undefined as Gate | undefined, verified: undefined as VerifiedBackup | undefined };
  const steps: Steps = {
    async backup({ signal }: StepContext) {
      state.running += 1;
      state.maxRunning = Math.max(state.maxRunning, state.running);
      const name = `b${state.backups.length + 1}`;
      const partial = join(dir, `${name}.partial`);
      await writeFile(partial, 'x');
      try {
        if (state.hold) {
          await Promise.race([
            state.hold.wait,
            new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
          ]);
        }
        await writeFile(join(dir, `${name}.dump`), 'dump');
        state.backups.push(name);
        return { name, createdAt: new Date().toISOString(), bytes: 4, seconds: 0 };
      } catch (error) {
        state.aborted += 1;
        throw error;
      } finally {
        await rm(partial, { force: true });
        state.running -= 1;
      }
    },
    async drill(b) {
      state.verified = { name: b.name, createdAt: b.createdAt };
      return { ok: true, restoreSeconds: 0.1, mismatches: 0, problems: [] };
    },
    async rotate() {
      return { deleted: 0, kept: state.backups.length };
    },
    lastVerified: async () => state.verified,
  };
  return { steps, state };
}

describe('scheduler core', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let running: RunningScheduler[] = [];
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await Promise.all(running.map((s) => s.stop('test end')));
    running = [];
  });
  afterAll(async () => {
    await receiver.close();
  });

  async function start(dir: string, steps: Steps, flags: Parameters<typeof resolveScheduleSettings>[0] = {}) {
    const lines: Array<Record<string, unknown>> = [];
    const settings = resolveScheduleSettings({ timezone: 'UTC', grace: '0.5s', ...flags }, { env: {}, backupDir: dir, targetKind: 'server' });
    const scheduler = await startScheduler({ settings, steps, targetLabel: 'postgres://app:***@db:5432/x', backupDir: dir, logger: jsonLogger((l) => lines.push(JSON.parse(l) as Record<string, unknown>)), signalBackoffMs: 10, abortWaitMs: 5000 });
    running.push(scheduler);
    return { scheduler, lines, settings };
  }
  const events = (lines: Array<Record<string, unknown>>, event: string) => lines.filter((l) => l.event === event);
  const until = async (cond: () => boolean, ms = 15_000) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  test('single flight: ticks during a running backup are skipped with a log line, never doubled', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-core-'));
    const { steps, state } = fileSteps(dir);
    state.hold = gate();
    const { lines } = await start(dir, steps, { cron: '* * * * * *', catchUp: false });
    await until(() => events(lines, 'run.skipped').length >= 2);
    state.hold.open();
    await until(() => state.backups.length >= 2);
    expect(state.maxRunning).toBe(1);
    const skipped = events(lines, 'run.skipped')[0]!;
    expect(skipped).toMatchObject({ level: 'warn', kind: 'backup', trigger: 'schedule', running: 'backup' });
    expect(skipped.msg).toMatch(/^backup run skipped: the backup run started at \S+ is still going$/);
  });

  test('catch-up at start-up: runs once when there is no verified backup, not when the last one is fresh', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-core-'));
    const { steps, state } = fileSteps(dir);
    const first = await start(dir, steps, { cron: '0 2 * * *' });
    await until(() => events(first.lines, 'run.end').length === 1);
    expect(events(first.lines, 'catch_up')[0]).toMatchObject({ msg: 'catching up: there is no verified backup yet', trigger: 'catch-up', ageSeconds: null, intervalSeconds: 86400 });
    expect(events(first.lines, 'run.end')[0]).toMatchObject({ trigger: 'catch-up', verdict: 'ok' });
    await first.scheduler.stop('SIGTERM');
    running = [];
    const second = await start(dir, steps, { cron: '0 2 * * *' });
    await new Promise((r) => setTimeout(r, 300));
    expect(events(second.lines, 'catch_up')).toEqual([]);
    expect(state.backups).toEqual(['b1']);
    // Counters survive a restart: the status file carries them.
    expect(second.scheduler.status().counters.runs).toBe(1);
  });

  test('SIGTERM during a backup: waits the grace period, aborts, no partial file, status says stopped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-core-'));
    const { steps, state } = fileSteps(dir);
    state.hold = gate();
    const { scheduler, lines, settings } = await start(dir, steps, { cron: '0 2 * * *', pingUrl: `${receiver.url}/hc/core-abort` });
    await until(() => state.running === 1);
    const t0 = Date.now();
    await scheduler.stop('SIGTERM');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    expect(state.aborted).toBe(1);
    expect(existsSync(join(dir, 'b1.partial'))).toBe(false);
    expect(events(lines, 'run.abort')).toHaveLength(1);
    expect(events(lines, 'run.end')[0]).toMatchObject({ verdict: 'aborted', step: 'backup' });
    const status = (await readStatusFile(settings.statusFile))!;
    expect(status.scheduler.state).toBe('stopped');
    expect(status.lastAttempt?.verdict).toBe('aborted');
    expect(status.counters.failures.backup).toBe(0); // a shutdown is not a backup failure
    expect(receiver.paths().filter((p) => p.includes('core-abort'))).toEqual(['GET /hc/core-abort/start']);
    // The lock is released: a new scheduler starts.
    await start(dir, fileSteps(dir).steps, { cron: '0 2 * * *', catchUp: false });
  });

  test('SIGTERM while a short step runs: it finishes within the grace period and counts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-core-'));
    const { steps, state } = fileSteps(dir);
    state.hold = gate();
    const { scheduler, lines } = await start(dir, steps, { cron: '0 2 * * *', grace: '10s' });
    await until(() => state.running === 1);
    setTimeout(() => state.hold!.open(), 200);
    await scheduler.stop('SIGINT');
    expect(state.backups).toEqual(['b1']);
    expect(events(lines, 'run.end')[0]).toMatchObject({ verdict: 'ok' });
    expect(events(lines, 'scheduler.stop')[0]).toMatchObject({ reason: 'SIGINT' });
  });

  test('a second scheduler on the same backup directory refuses, naming the first', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-core-'));
    const { scheduler } = await start(dir, fileSteps(dir).steps, { cron: '0 2 * * *', catchUp: false });
    const since = JSON.parse(await readFile(join(dir, 'scheduler.owner.json'), 'utf8')).since as string;
    await expect(start(dir, fileSteps(dir).steps, { cron: '0 3 * * *' })).rejects.toThrow(
      `a scheduler is already running for ${dir} (pid ${process.pid} on ${(await import('node:os')).hostname()}, since ${since}, target postgres://app:***@db:5432/x): stop it first, or give this one another backup directory`,
    );
    expect(scheduler.status().scheduler.state).toBe('running');
  });

  test('the backup directory disappearing: recorded, signalled, and the next tick recovers once it is back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-core-'));
    const promDir = await mkdtemp(join(tmpdir(), 'sched-prom-'));
    const { steps, state } = fileSteps(dir);
    const { lines } = await start(dir, steps, { cron: '*/2 * * * * *', catchUp: false, pingUrl: `${receiver.url}/hc/core-gone`, webhookUrl: `${receiver.url}/hook/core-gone`, promFile: join(promDir, 'a.prom') });
    await rm(dir, { recursive: true });
    await until(() => events(lines, 'run.end').length >= 1);
    expect(events(lines, 'run.end')[0]).toMatchObject({ verdict: 'failed', step: 'backup', error: `the backup directory ${dir} has disappeared (deleted or unmounted?): nothing was written; recreate or remount it (mkdir -m 700 ${dir}), the next run retries` });
    await receiver.waitFor((r) => r.some((x) => x.path === '/hook/core-gone') && r.some((x) => x.path === '/hc/core-gone/fail'));
    expect(JSON.parse(receiver.requests.find((r) => r.path === '/hook/core-gone')!.body)).toMatchObject({ event: 'aetherlens.backup.failed', step: 'backup' });
    expect(await readFile(join(promDir, 'a.prom'), 'utf8')).toContain('aetherlens_backup_failures_total{target="postgres://app:***@db:5432/x",step="backup"} 1');
    expect(events(lines, 'status.write_failed').length).toBeGreaterThanOrEqual(1);
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir, { mode: 0o700 });
    await until(() => state.backups.length >= 1);
    await until(() => events(lines, 'run.end').some((l) => l.verdict === 'ok'));
    // The lock was taken again in the recreated directory.
    expect(existsSync(join(dir, 'scheduler.owner.json'))).toBe(true);
  });
});
