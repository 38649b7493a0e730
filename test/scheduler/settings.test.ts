import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseDuration, resolveScheduleSettings, type ScheduleFlags } from '../../ops/lib/scheduler/settings.js';

const resolve = (flags: ScheduleFlags, env: Record<string, string> = {}, targetKind: 'server' | 'embedded' = 'server') =>
  resolveScheduleSettings(flags, { env, backupDir: '/srv/backups', targetKind });
const problem = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    expect((error as { code?: string }).code).toBe('CONFIG');
    return (error as Error).message;
  }
  throw new Error('expected a CONFIG error');
};

describe('schedule settings', () => {
  test('defaults: nightly at 02:00, drill and rotate on, status file in the backup directory', () => {
    const s = resolve({}, { AETHERLENS_TIMEZONE: 'Europe/Berlin' });
    expect(s).toEqual({
      backupCron: '0 2 * * *',
      timezone: 'Europe/Berlin',
      drill: true,
      rotate: true,
      jobsCron: null,
      catchUp: true,
      statusFile: '/srv/backups/scheduler-status.json',
      graceSeconds: 60,
      signalTimeoutMs: 5000,
      signalRetries: 2,
    });
    expect(resolve({}, {}, 'embedded').jobsCron).toBe('*/15 * * * *');
  });

  test('flags win over the environment, which wins over the config file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-conf-'));
    const file = join(dir, 'schedule.json');
    await writeFile(file, JSON.stringify({ backupCron: '0 4 * * *', timezone: 'Asia/Tokyo', maxBackupAge: '2d', grace: '10s', drill: false, signalRetries: 0 }));
    expect(resolve({ config: file })).toMatchObject({ backupCron: '0 4 * * *', timezone: 'Asia/Tokyo', maxBackupAgeSeconds: 172800, graceSeconds: 10, drill: false, signalRetries: 0 });
    expect(resolve({}, { AETHERLENS_SCHEDULE_CONFIG: file, AETHERLENS_BACKUP_CRON: '0 3 * * *' })).toMatchObject({ backupCron: '0 3 * * *', timezone: 'Asia/Tokyo' });
    expect(resolve({ cron: '*/5 * * * * *', config: file }, { AETHERLENS_BACKUP_CRON: '0 3 * * *' }).backupCron).toBe('*/5 * * * * *');
  });

  test('an invalid cron expression is refused naming the setting and the field', () => {
    expect(problem(() => resolve({ cron: '61 2 * * *' }, { AETHERLENS_TIMEZONE: 'UTC' }))).toBe(
      '--cron "61 2 * * *" has an invalid minute field "61": use five fields "minute hour day-of-month month day-of-week" (e.g. "0 2 * * *" for 02:00 daily), or six with seconds first',
    );
    expect(problem(() => resolve({}, { AETHERLENS_BACKUP_CRON: 'nightly', AETHERLENS_TIMEZONE: 'UTC' }))).toBe(
      'AETHERLENS_BACKUP_CRON "nightly" is not valid (expected 5 or 6 fields but got 1): use five fields "minute hour day-of-month month day-of-week" (e.g. "0 2 * * *" for 02:00 daily), or six with seconds first',
    );
  });

  test('an unknown time zone is refused with examples', () => {
    expect(problem(() => resolve({ timezone: 'Mars/Olympus_Mons' }))).toBe(
      '--timezone "Mars/Olympus_Mons" is not an IANA time zone name: use one such as Europe/Berlin, America/New_York or UTC (see timedatectl list-timezones)',
    );
    // Offsets parse in Intl but carry no DST rules: refused too.
    expect(problem(() => resolve({}, { AETHERLENS_TIMEZONE: '+02:00' }))).toContain('AETHERLENS_TIMEZONE "+02:00" is not an IANA time zone name');
  });

  test('every problem is reported at once; URLs are never repeated (they carry tokens)', () => {
    const message = problem(() =>
      resolve({ pingUrl: 'ftp://hc.example/secret-uuid', maxAge: 'soon', promFile: '/var/lib/node_exporter/aetherlens.txt' }, { AETHERLENS_WEBHOOK_URL: 'not a url secret-token', AETHERLENS_TIMEZONE: 'UTC' }));
    expect(message).toBe(
      'the schedule has 4 problems: --max-age must be a duration of at least 1 s, such as 90s, 45m, 36h or 2d; the Prometheus file /var/lib/node_exporter/aetherlens.txt must end in .prom (node_exporter\'s textfile collector reads only those); --ping-url must be an http:// or https:// URL; AETHERLENS_WEBHOOK_URL must be an http:// or https:// URL',
    );
    expect(message).not.toContain('secret');
  });

  test('a jobs schedule is for the embedded target only; "off" turns it off', () => {
    expect(problem(() => resolve({ jobsCron: '*/5 * * * *', timezone: 'UTC' }))).toBe(
      '--jobs-cron: policy jobs are scheduled only on the embedded target (a server runs them with TimescaleDB\'s background workers); remove it or set it to "off"',
    );
    expect(resolve({ jobsCron: 'off', timezone: 'UTC' }, {}, 'embedded').jobsCron).toBeNull();
    expect(problem(() => resolve({ jobsCron: '*/15 25 * * *', timezone: 'UTC' }, {}, 'embedded'))).toContain('--jobs-cron "*/15 25 * * *" has an invalid hour field "25"');
  });

  test('a config file with an unknown key or bad JSON is refused, naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-conf-'));
    await writeFile(join(dir, 'typo.json'), JSON.stringify({ backupCorn: '0 2 * * *' }));
    await writeFile(join(dir, 'bad.json'), '{"backupCron": ');
    expect(problem(() => resolve({ config: join(dir, 'typo.json') }))).toBe(
      `the schedule config ${join(dir, 'typo.json')} has unknown key(s) backupCorn: known keys are backupCron, timezone, drill, rotate, jobsCron, catchUp, statusFile, promFile, pingUrl, webhookUrl, maxBackupAge, grace, signalTimeout, signalRetries`,
    );
    expect(problem(() => resolve({ config: join(dir, 'bad.json') }))).toMatch(/^the schedule config .*bad\.json is not valid JSON \(/);
    expect(problem(() => resolve({ config: join(dir, 'missing.json') }))).toBe(
      `cannot read the schedule config ${join(dir, 'missing.json')} (ENOENT): check the path in --config / AETHERLENS_SCHEDULE_CONFIG`,
    );
  });

  test.each([
    ['90', 90],
    ['90s', 90],
    ['45m', 2700],
    ['36h', 129600],
    ['1h30m', 5400],
    ['2d', 172800],
    ['0.5h', 1800],
    ['soon', undefined],
    ['-5m', undefined],
    ['', undefined],
  ])('duration %j is %j seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });
});
