// The real `aetherlens-db schedule` process against a native PostgreSQL 15 + TimescaleDB:
// SIGTERM in the middle of a real backup, a second scheduler, and `status --backups`.
import { mkdtemp, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connectionUrl, type ConnectionInfo } from '../../ops/lib/connection.js';
import { withClient } from '../../ops/lib/pg.js';
import { readStatusFile } from '../../ops/lib/scheduler/status.js';
import { runCli } from '../support/cli.js';
import { nativeUnavailableReason, PG_BIN, startNativeCluster, type NativeCluster } from '../support/nativeCluster.js';
import { createSmallDatabase } from './support/fixtures.js';
import { spawnScheduler } from './support/schedulerProcess.js';

const unavailable = nativeUnavailableReason();

describe.skipIf(unavailable)('aetherlens-db schedule (process) on a native server', () => {
  let cluster: NativeCluster;
  let db: ConnectionInfo;
  beforeAll(async () => {
    cluster = await startNativeCluster();
    db = await createSmallDatabase(cluster.info, 'sched_cli');
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  const env = (dir: string) => ({ DATABASE_URL: connectionUrl(db), PG_BIN_DIR: PG_BIN, AETHERLENS_BACKUP_DIR: dir, AETHERLENS_TIMEZONE: 'UTC' });

  test('SIGTERM mid-backup: the running pg_dump is aborted, nothing partial is left, exit 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-term-'));
    // 1 M rows: pg_dump needs about 2 s, long enough to be caught in the middle.
    const big = { ...cluster.info, database: 'sched_big' };
    await withClient(cluster.info, (c) => c.query('CREATE DATABASE sched_big'));
    await withClient(big, (c) => c.query(`CREATE EXTENSION timescaledb; CREATE TABLE big AS SELECT g AS id, md5(g::text) AS h, random() AS v FROM generate_series(1, 1000000) g`));
    const s = spawnScheduler(['--cron', '0 3 * * *', '--grace', '0s'], { ...env(dir), DATABASE_URL: connectionUrl(big) });
    await s.waitFor((l) => l.event === 'step.start' && l.step === 'backup');
    // Wait until the dump file in the partial folder is growing: pg_dump is at work.
    const partialDump = async () => {
      for (const name of (await readdir(dir)).filter((n) => n.startsWith('.partial-'))) {
        for (const f of await readdir(join(dir, name)).catch(() => [] as string[])) {
          if (f.endsWith('.dump') && (await stat(join(dir, name, f)).catch(() => ({ size: 0 }))).size > 1_000_000) return true;
        }
      }
      return false;
    };
    for (let i = 0; i < 800 && !(await partialDump()); i++) await new Promise((r) => setTimeout(r, 25));
    expect(await partialDump()).toBe(true);
    s.kill('SIGTERM');
    const exit = await s.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(s.stderr()).toBe('');
    const events = s.lines.map((l) => l.event);
    // The scheduler signals the backup job's process group; aetherlens-db backup cleans up and says so.
    const shown = ['scheduler.stopping', 'run.abort', 'step.end', 'run.end', 'scheduler.stop'];
    expect(events.slice(events.indexOf('scheduler.stopping')).filter((e) => shown.includes(String(e)))).toEqual(shown);
    expect(s.lines.find((l) => l.event === 'run.end')).toMatchObject({ job: 'backup', verdict: 'aborted', step: 'backup', error: 'the job backup was stopped because the scheduler stopped: backup interrupted: the partial backup was removed and older backups are untouched' });
    // No backup, no partial folder and no lock leftovers: only the scheduler's status file.
    expect(await readdir(dir)).toEqual(['scheduler-status.json']);
    const status = (await readStatusFile(join(dir, 'scheduler-status.json')))!;
    expect(status.scheduler.state).toBe('stopped');
    expect(status.lastAttempt?.verdict).toBe('aborted');
    expect(status.counters.failures.backup).toBe(0);
    // pg_dump's server session ends too, once the server notices its client is gone.
    const sessions = () => withClient(big, async (c) => (await c.query(`SELECT application_name AS a FROM pg_stat_activity WHERE datname = 'sched_big' AND backend_type = 'client backend' AND pid <> pg_backend_pid()`)).rows.map((r) => r.a as string));
    for (let i = 0; i < 50 && (await sessions()).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await sessions()).toEqual([]);
  });

  test('a second scheduler on the same target and directory refuses, naming the first; the first stops cleanly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-two-'));
    const first = spawnScheduler(['--cron', '0 3 * * *', '--no-catch-up'], env(dir));
    const started = await first.waitFor((l) => l.event === 'scheduler.start');
    const second = await runCli(['schedule', '--cron', '0 4 * * *'], env(dir));
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`^error: a scheduler is already running for ${dir} \\(pid ${started.pid} on \\S+, since \\S+, target postgres://postgres:\\*\\*\\*@127\\.0\\.0\\.1:${cluster.port}/sched_cli\\): stop it first, or give this one another backup directory$`));
    expect(second.stdout).toBe('');
    first.kill('SIGINT');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    // The password never appears in any line the scheduler wrote.
    expect(first.raw.join('\n')).not.toContain(db.password!);
  });

  test('bad settings stop it at start with one line and exit 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-bad-'));
    const zone = await runCli(['schedule', '--timezone', 'Europe/Atlantis'], env(dir));
    expect([zone.exitCode, zone.stderr]).toEqual([2, 'error: --timezone "Europe/Atlantis" is not an IANA time zone name: use one such as Europe/Berlin, America/New_York or UTC (see timedatectl list-timezones)']);
    // Rotation counts are checked at start too, not at the first rotation in the night.
    const keep = await runCli(['schedule'], { ...env(dir), AETHERLENS_KEEP_DAILY: '-1' });
    expect([keep.exitCode, keep.stderr]).toEqual([2, 'error: AETHERLENS_KEEP_DAILY must be a whole number, 0 or more (got "-1")']);
    expect(await readdir(dir)).toEqual([]);
  });

  test('a real cycle from the process, then status --backups: exit 0 while fresh, exit 1 past --max-age, --json', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-status-'));
    const s = spawnScheduler(['--cron', '0 3 * * *'], env(dir));
    const end = await s.waitFor((l) => l.event === 'run.end');
    expect(end).toMatchObject({ trigger: 'catch-up', verdict: 'ok' });
    const running = await runCli(['status', '--backups'], env(dir));
    expect(running.exitCode).toBe(0);
    const lines = running.stdout.split('\n');
    expect(lines[0]).toMatch(/^backups: FRESH: the last verified backup \d{8}T\d{6}Z-sched_cli is \d+s old \(limit 1d 12h\)$/);
    expect(lines[1]).toMatch(new RegExp(`^scheduler: running \\(pid ${String(s.child.pid)} on \\S+, since \\S+\\)$`));
    expect(lines[2]).toMatch(/^last verified: \S+, taken \S+Z, restore drill [\d.]+ s$/);
    expect(lines[3]).toMatch(/^last attempt: \S+Z ok \(catch-up, [\d.]+ s\)$/);
    expect(lines.at(-1)).toBe(`age limit: 1d 12h; status file: ${join(dir, 'scheduler-status.json')}`);
    s.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
    await new Promise((r) => setTimeout(r, 1100));
    const stale = await runCli(['status', '--backups', '--max-age', '1s', '--json'], env(dir));
    expect(stale.exitCode).toBe(1);
    const health = JSON.parse(stale.stdout) as Record<string, unknown>;
    expect(health).toMatchObject({ ok: false, state: 'stale', maxAgeSeconds: 1, scheduler: { running: false } });
    expect(String(health.message)).toMatch(/^the last verified backup \S+ is \d+s old, older than the limit of 1s: the scheduler is not running, start it$/);
    const bad = await runCli(['status', '--backups', '--max-age', 'soon'], env(dir));
    expect([bad.exitCode, bad.stderr]).toEqual([2, 'error: --max-age must be a duration such as 90s, 45m, 36h or 2d']);
  });
});
