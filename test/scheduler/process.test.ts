// The real `aetherlens-db schedule` process running operators' job scripts on seconds-level cron
// schedules: a job that overlaps itself (skipped and counted), one that hangs (killed at its
// timeout with everything it started), SIGTERM in the middle of a job (it cleans up, the
// scheduler waits), the status and .prom files, pings and the webhook at a real local HTTP
// receiver, secrets out of logs and out of `ps`, and the scheduler's memory over the run.
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SHIPPED_JOBS_DIR } from '../../ops/lib/scheduler/jobFiles.js';
import { readStatusFile } from '../../ops/lib/scheduler/status.js';
import { runCli } from '../support/cli.js';
import { sample } from './support/cycles.js';
import { startReceiver } from './support/receiver.js';
import { spawnScheduler, type LogLine } from './support/schedulerProcess.js';

/** Writes its output under a temporary name and renames it when done; on SIGTERM it removes the partial file. */
const TICK = `
const partial = path.join(process.env.TICK_DIR, '.tick-' + Date.now() + '.partial');
process.on('SIGTERM', () => {
  fs.rmSync(partial, { force: true });
  console.log(JSON.stringify({ ok: false, error: 'stopped mid-write: the partial file was removed' }));
  process.exit(1);
});
// The partial file exists before step.start says so: the test signals on step.start, and a
// SIGTERM during the write could remove the file before the write's open() created it.
await fs.writeFile(partial, 'half');
console.log(JSON.stringify({ event: 'step.start', step: 'write', msg: 'write started' }));
await sleep(2500);
const done = partial.replace('.partial', '.json').replace('/.tick-', '/tick-');
await fs.rename(partial, done);
console.log('a careless line with the password ' + process.env.PGPASSWORD + ' and the ping variable ' + (process.env.AETHERLENS_PING_URL ?? 'unset'));
console.log(JSON.stringify({ ok: true, steps: [{ step: 'write', verdict: 'ok', file: path.basename(done) }] }));
`;

/** Starts a sleep and waits for it: only a signal to the whole process group ends both. */
const HANG = `#!/bin/sh
sleep 300 &
echo "{\\"event\\":\\"hang.sleeping\\",\\"sleepPid\\":$!}"
wait
`;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** The command lines (as `ps` shows every local user) of `root` and all its descendants, job process groups included. */
function processTree(root: number): string[] {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' }).split('\n').map((l) => /^\s*(\d+)\s+(\d+)\s(.*)$/.exec(l)).filter((m): m is RegExpExecArray => m !== null);
  const pids = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const m of rows) {
      if (pids.has(Number(m[2])) && !pids.has(Number(m[1]))) {
        pids.add(Number(m[1]));
        grew = true;
      }
    }
  }
  return rows.filter((m) => pids.has(Number(m[1]))).map((m) => m[3]!);
}
const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(execFileSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' }))?.[1] ?? NaN);

describe('aetherlens-db schedule running job scripts (process)', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
  });

  test('overlap skipped, a hang killed at its timeout, SIGTERM mid-job, status and .prom files, signals, no secret in logs or ps, flat memory', async () => {
    const root = await mkdtemp(join(tmpdir(), 'sched-proc-'));
    const jobsDir = join(root, 'jobs');
    const tickDir = join(root, 'ticks');
    const backupDir = join(root, 'backups');
    await Promise.all([jobsDir, tickDir].map((d) => import('node:fs/promises').then((fs) => fs.mkdir(d))));
    await writeFile(join(jobsDir, 'tick.mjs'), TICK);
    await writeFile(join(jobsDir, 'hang.sh'), HANG);
    await chmod(join(jobsDir, 'hang.sh'), 0o755);
    const promFile = join(root, 'aetherlens.prom');
    const config = join(root, 'schedule.json');
    await writeFile(config, JSON.stringify({
      killGrace: '1s',
      signalTimeout: '2s',
      jobs: {
        backup: 'off',
        drill: 'off',
        policies: 'off',
        tick: { cron: '* * * * * *', timeout: '30s', pingUrl: `${receiver.url}/hc/tick-token-1` },
        hang: { cron: '*/4 * * * * *', timeout: '1s' },
      },
    }));
    const pingFile = join(root, 'ping-url');
    await writeFile(pingFile, `${receiver.url}/hc/global-token-2\n`, { mode: 0o600 });
    const password = 'pw-in-the-environment-3';
    const s = spawnScheduler(['--config', config, '--jobs-dir', jobsDir, '--prom-file', promFile, '--ping-url-file', pingFile, '--grace', '0s', '--timezone', 'UTC'], {
      AETHERLENS_EMBEDDED_DIR: join(root, 'embedded'),
      AETHERLENS_BACKUP_DIR: backupDir,
      AETHERLENS_WEBHOOK_URL: `${receiver.url}/hook/webhook-token-4`,
      PGPASSWORD: password,
      TICK_DIR: tickDir,
    });
    const started = await s.waitFor((l) => l.event === 'scheduler.start');
    const pid = s.child.pid!;
    expect(started.jobs).toEqual([
      expect.objectContaining({ name: 'tick', cron: '* * * * * *', timeoutSeconds: 30, script: join(jobsDir, 'tick.mjs') }),
      expect.objectContaining({ name: 'hang', cron: '*/4 * * * * *', timeoutSeconds: 1, script: join(jobsDir, 'hang.sh') }),
    ]);

    const ends = (job: string) => s.lines.filter((l) => l.event === 'run.end' && l.job === job);
    const waitEnds = async (job: string, n: number, ms = 90_000) => {
      const until = Date.now() + ms;
      while (ends(job).length < n) {
        if (Date.now() > until) throw new Error(`${job}: ${ends(job).length} of ${n} runs ended:\n${s.raw.join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    // While the jobs run: nothing in any process's argv carries a token (they came from a file and the environment).
    await s.waitFor((l) => l.event === 'step.start' && l.job === 'tick');
    const ours = processTree(pid);
    expect(ours.some((args) => args.includes(join(jobsDir, 'tick.mjs')))).toBe(true);
    for (const token of ['tick-token-1', 'global-token-2', 'webhook-token-4', password]) expect(ours.filter((args) => args.includes(token))).toEqual([]);

    // Memory over many cycles: sampled after each tick run ends.
    const rss: number[] = [];
    for (let n = 1; n <= 8; n++) {
      await waitEnds('tick', n);
      rss.push(rssKb(pid));
    }
    await waitEnds('hang', 2);

    // SIGTERM while a tick run is writing: the job gets it, removes its partial file, the scheduler waits.
    const runningTick = await s.waitFor((l) => l.event === 'run.start' && l.job === 'tick' && !s.lines.some((e) => e.event === 'run.end' && e.run === l.run), 10_000);
    await s.waitFor((l) => l.event === 'step.start' && l.run === runningTick.run);
    s.kill('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });
    expect(s.stderr()).toBe('');

    const lines: LogLine[] = s.lines;
    // The interrupted run: aborted, not failed; its job said why; nothing half-written is left.
    expect(lines.find((l) => l.event === 'run.end' && l.run === runningTick.run)).toMatchObject({ job: 'tick', verdict: 'aborted', error: 'the job tick was stopped because the scheduler stopped: stopped mid-write: the partial file was removed' });
    const files = await readdir(tickDir);
    expect(files.filter((f) => f.endsWith('.partial'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.json')).length).toBeGreaterThanOrEqual(8);
    const afterStop = lines.slice(lines.findIndex((l) => l.event === 'scheduler.stopping'));
    const tickEvents = afterStop.filter((l) => ['run.abort', 'run.end'].includes(String(l.event)) && l.job === 'tick').map((l) => l.event);
    expect(tickEvents).toEqual(['run.abort', 'run.end']);
    expect(afterStop.at(-1)?.event).toBe('scheduler.stop');

    // Single flight: every second a tick, each run 2.5 s, so ticks were skipped, counted, and never overlapped.
    const skipped = lines.filter((l) => l.event === 'run.skipped' && l.job === 'tick');
    expect(skipped.length).toBeGreaterThan(0);
    expect(skipped[0]!.msg).toMatch(/^tick run skipped: the tick run started at \S+ is still going$/);
    const spans = ends('tick').map((e) => ({ start: Date.parse(String(lines.find((l) => l.event === 'run.start' && l.run === e.run)!.time)), end: Date.parse(e.time) }));
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.start).toBeGreaterThanOrEqual(spans[i - 1]!.end);
    for (const e of ends('tick').slice(0, 8)) expect(e).toMatchObject({ verdict: 'ok', exitCode: 0 });

    // The hang: killed at 1 s with the sleep it started; recorded as a failure with its reason.
    const hangEnd = ends('hang')[0]!;
    expect(hangEnd).toMatchObject({ verdict: 'failed', step: 'hang', error: 'the job hang did not finish within 1 s and was stopped (SIGTERM, then SIGKILL after 1 s): raise its timeout or find what hangs' });
    const sleepPid = Number(lines.find((l) => l.event === 'hang.sleeping' && l.run === hangEnd.run)!.sleepPid);
    expect(alive(sleepPid)).toBe(false);
    // ...and the next tick ran it again: the scheduler kept going.
    expect(ends('hang').length).toBeGreaterThanOrEqual(2);

    // Secrets: the password a job printed is blanked; the job never saw the ping URL.
    const careless = lines.find((l) => l.event === 'job.output' && l.job === 'tick')!;
    expect(careless.msg).toBe('a careless line with the password *** and the ping variable unset');
    const all = s.raw.join('\n');
    for (const token of ['tick-token-1', 'global-token-2', 'webhook-token-4', password]) expect(all).not.toContain(token);

    // Status file and .prom file: per job.
    const status = (await readStatusFile(join(backupDir, 'scheduler-status.json')))!;
    expect(status.scheduler.state).toBe('stopped');
    const tick = status.jobs!.tick!;
    const hang = status.jobs!.hang!;
    expect(tick).toMatchObject({ runs: ends('tick').length, failures: 0, skipped: skipped.length, timeouts: 0, lastRun: { verdict: 'aborted' } });
    const hangFailed = ends('hang').filter((e) => e.verdict === 'failed').length;
    expect(hangFailed).toBeGreaterThanOrEqual(2);
    expect(hang).toMatchObject({ runs: ends('hang').length, failures: hangFailed, timeouts: hangFailed });
    expect(status.lastError).toMatchObject({ job: 'hang', step: 'hang' });
    expect(JSON.stringify(status)).not.toMatch(/token|pw-in/);
    const prom = await readFile(promFile, 'utf8');
    expect(sample(prom, 'aetherlens_job_runs_total', 'job="tick"')).toBe(tick.runs);
    expect(sample(prom, 'aetherlens_job_skipped_total', 'job="tick"')).toBe(skipped.length);
    expect(sample(prom, 'aetherlens_job_timeouts_total', 'job="hang"')).toBe(hang.timeouts);
    expect(sample(prom, 'aetherlens_job_failures_total', 'job="hang"')).toBe(hang.failures);
    expect(sample(prom, 'aetherlens_job_last_run_success', 'job="tick"')).toBe(0);

    // Signals: the tick job's own ping URL got /start and success for each finished run; the
    // webhook got the hang's failures; the global ping URL (the backup job's) got nothing.
    const tickPings = receiver.paths().filter((p) => p.includes('tick-token-1')).map((p) => p.replace('GET /hc/tick-token-1', '') || '/');
    expect(tickPings.filter((p) => p === '/').length).toBe(ends('tick').filter((e) => e.verdict === 'ok').length);
    expect(tickPings.filter((p) => p === '/start').length).toBe(ends('tick').length);
    expect(receiver.paths().some((p) => p.includes('global-token-2'))).toBe(false);
    const hooks = receiver.requests.filter((r) => r.path === '/hook/webhook-token-4').map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(hooks.length).toBe(hang.failures);
    expect(hooks[0]).toMatchObject({ event: 'aetherlens.job.failed', job: 'hang', step: 'hang', error: hangEnd.error });

    // Memory: jobs run in children, so the scheduler's RSS stays flat from the 2nd to the 8th run.
    console.log(`scheduler RSS (kB) after tick runs 1..8: ${rss.join(', ')}; tick runs took ${ends('tick').map((e) => e.seconds).join(', ')} s`);
    expect(rss[7]! / rss[1]!).toBeLessThan(1.5);
  }, 180_000);

  test('the backup directory disappearing: the backup job is not started, the failure is recorded and signalled, the next tick recovers', async () => {
    const root = await mkdtemp(join(tmpdir(), 'sched-gone-'));
    const jobsDir = join(root, 'jobs');
    const backupDir = join(root, 'backups');
    const { mkdir, rm } = await import('node:fs/promises');
    await mkdir(jobsDir);
    // An operator's backup.sh replaces the shipped job: a fast stand-in that writes one file.
    await writeFile(join(jobsDir, 'backup.sh'), '#!/bin/sh\ndate +%s%N > "$AETHERLENS_BACKUP_DIR/made-$$"\necho "{\\"ok\\":true,\\"steps\\":[{\\"step\\":\\"backup\\",\\"verdict\\":\\"ok\\",\\"backup\\":\\"made-$$\\",\\"bytes\\":20}]}"\n');
    await chmod(join(jobsDir, 'backup.sh'), 0o755);
    const config = join(root, 'schedule.json');
    await writeFile(config, JSON.stringify({ jobs: { drill: 'off', policies: 'off' }, signalTimeout: '2s' }));
    // The ping URL given the unsafe way, in argv: warned about once, and never logged.
    const s = spawnScheduler(['--config', config, '--jobs-dir', jobsDir, '--cron', '*/2 * * * * *', '--no-catch-up', '--grace', '5s', '--timezone', 'UTC', '--ping-url', `${receiver.url}/hc/argv-token`], {
      AETHERLENS_EMBEDDED_DIR: join(root, 'embedded'),
      AETHERLENS_BACKUP_DIR: backupDir,
      AETHERLENS_WEBHOOK_URL: `${receiver.url}/hook/gone-token`,
    });
    await s.waitFor((l) => l.event === 'run.end' && l.verdict === 'ok');
    await rm(backupDir, { recursive: true });
    const failed = await s.waitFor((l) => l.event === 'run.end' && l.verdict === 'failed');
    expect(failed).toMatchObject({ job: 'backup', step: 'backup', error: `the backup directory ${backupDir} has disappeared (deleted or unmounted?): nothing was written; recreate or remount it (mkdir -m 700 ${backupDir}), the next run retries` });
    await receiver.waitFor((r) => r.some((x) => x.path === '/hook/gone-token'));
    expect(JSON.parse(receiver.requests.find((r) => r.path === '/hook/gone-token')!.body)).toMatchObject({ event: 'aetherlens.backup.failed', job: 'backup', step: 'backup', error: failed.error });
    await mkdir(backupDir, { mode: 0o700 });
    const failedAt = s.lines.indexOf(failed);
    await s.waitFor((l) => l.event === 'run.end' && l.verdict === 'ok' && s.lines.indexOf(l) > failedAt);
    // The lock was taken again in the recreated directory.
    expect((await readdir(backupDir)).filter((f) => f.startsWith('scheduler'))).toContain('scheduler.owner.json');
    s.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
    expect(s.lines.filter((l) => l.event === 'settings.warning').map((l) => l.msg)).toEqual(['--ping-url puts the URL\'s token in the command line, where ps shows it to every local user: set AETHERLENS_PING_URL or use --ping-url-file FILE instead']);
    expect(s.raw.join('\n')).not.toContain('argv-token');
    expect(receiver.paths()).toContain('GET /hc/argv-token/fail');
    const status = (await readStatusFile(join(backupDir, 'scheduler-status.json')))!;
    expect(status.counters.failures.backup).toBeGreaterThanOrEqual(1);
    expect(status.lastSuccess?.backup).toMatch(/^made-\d+$/);
  }, 90_000);

  test('a scheduled job that is missing or not executable stops the scheduler at start: one line, exit 2, nothing written', async () => {
    const root = await mkdtemp(join(tmpdir(), 'sched-bad-'));
    const jobsDir = join(root, 'jobs');
    await import('node:fs/promises').then((fs) => fs.mkdir(jobsDir));
    await writeFile(join(jobsDir, 'nas.sh'), '#!/bin/sh\necho \'{"ok":true}\'\n');
    const config = join(root, 'schedule.json');
    const env = { AETHERLENS_EMBEDDED_DIR: join(root, 'embedded'), AETHERLENS_BACKUP_DIR: join(root, 'backups'), AETHERLENS_JOBS_DIR: jobsDir };
    await writeFile(config, JSON.stringify({ jobs: { nightly: { cron: '0 3 * * *' } } }));
    const missing = await runCli(['schedule', '--config', config, '--timezone', 'UTC'], env);
    expect([missing.exitCode, missing.stderr]).toEqual([2, `error: the scheduled job nightly: there is no job "nightly" in ${SHIPPED_JOBS_DIR} or ${jobsDir}: the jobs are backup, drill, nas, policies`]);
    await writeFile(config, JSON.stringify({ jobs: { nas: { cron: '0 3 * * *' } } }));
    const noexec = await runCli(['schedule', '--config', config, '--timezone', 'UTC'], env);
    expect([noexec.exitCode, noexec.stderr]).toEqual([2, `error: the scheduled job nas: the job script ${join(jobsDir, 'nas.sh')} is not executable: chmod +x ${join(jobsDir, 'nas.sh')}, or name it nas.ts to run it with node`]);
    expect(await readdir(root)).toEqual(['jobs', 'schedule.json']);
  }, 60_000);
});
