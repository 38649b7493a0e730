import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseDuration, resolveScheduleSettings, type ScheduleFlags } from '../../ops/lib/scheduler/settings.js';

const resolve = (flags: ScheduleFlags, env: Record<string, string> = {}, targetKind: 'server' | 'embedded' = 'server') =>
  resolveScheduleSettings(flags, { env, backupDir: '/srv/backups', runsPolicyJobsItself: targetKind !== 'embedded' });
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
      jobs: [
        { name: 'backup', cron: '0 2 * * *', timezone: 'Europe/Berlin', timeoutSeconds: 21600 },
        { name: 'drill', cron: '0 4 * * *', timezone: 'Europe/Berlin', timeoutSeconds: 21600 },
      ],
      killGraceSeconds: 30,
      warnings: [],
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
    expect(resolve({}, { AETHERLENS_TIMEZONE: 'UTC' }, 'embedded').jobs.map((j) => `${j.name} ${j.cron} ${j.timeoutSeconds}`)).toEqual(['backup 0 2 * * * 21600', 'drill 0 4 * * * 21600', 'policies */15 * * * * 3600']);
  });

  test('jobs from the config file: own schedules, zones and timeouts, "off", and operators\' own jobs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-conf-'));
    const file = join(dir, 'schedule.json');
    await writeFile(file, JSON.stringify({ jobsDir: '/etc/aetherlens/jobs', jobs: { drill: 'off', 'copy-offsite': { cron: '30 3 * * *', timezone: 'Asia/Tokyo', timeout: '20m', pingUrl: 'https://hc.example/copy-uuid' } } }));
    const s = resolve({ config: file, timezone: 'UTC' });
    expect(s.jobs).toEqual([
      { name: 'backup', cron: '0 2 * * *', timezone: 'UTC', timeoutSeconds: 21600 },
      { name: 'copy-offsite', cron: '30 3 * * *', timezone: 'Asia/Tokyo', timeoutSeconds: 1200, pingUrl: 'https://hc.example/copy-uuid' },
    ]);
    expect(s.jobsDir).toBe('/etc/aetherlens/jobs');
    expect(resolve({ config: file, timezone: 'UTC', jobsDir: '/opt/jobs' }).jobsDir).toBe('/opt/jobs');
    expect(resolve({ timezone: 'UTC', cron: 'off' }).jobs.map((j) => j.name)).toEqual(['drill']);
    await writeFile(file, JSON.stringify({ jobs: { nightly: { timeout: 'long' }, 'bad name': 'off', drill: { cron: '0 4 * * *', user: 'x' } } }));
    expect(problem(() => resolve({ config: file, timezone: 'UTC' }))).toBe(
      `configuration has 3 problems:\n  - "jobs.bad name" in ${file}: a job name uses letters, digits, - and _\n  - "jobs.drill" in ${file} has unknown key(s) user: known keys are cron, timezone, timeout, pingUrl\n  - "jobs.nightly" in ${file} needs a "cron" expression (or "off")`,
    );
  });

  test('ping and webhook URLs from files or the environment; a token on the command line is warned about once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sched-conf-'));
    await writeFile(join(dir, 'ping'), 'https://hc-ping.com/secret-uuid\n', { mode: 0o600 });
    await writeFile(join(dir, 'hook'), 'https://chat.example/hooks/secret-token', { mode: 0o600 });
    const fromFiles = resolve({ pingUrlFile: join(dir, 'ping'), timezone: 'UTC' }, { AETHERLENS_WEBHOOK_URL_FILE: join(dir, 'hook') });
    expect([fromFiles.pingUrl, fromFiles.webhookUrl, fromFiles.warnings]).toEqual(['https://hc-ping.com/secret-uuid', 'https://chat.example/hooks/secret-token', []]);
    expect(resolve({ timezone: 'UTC' }, { AETHERLENS_PING_URL: 'https://hc-ping.com/secret-uuid' }).warnings).toEqual([]);
    const inArgv = resolve({ pingUrl: 'https://hc-ping.com/secret-uuid', webhookUrl: 'https://chat.example/hooks/secret-token', timezone: 'UTC' });
    expect(inArgv.warnings).toEqual([
      '--ping-url puts the URL\'s token in the command line, where ps shows it to every local user: set AETHERLENS_PING_URL or use --ping-url-file FILE instead',
      '--webhook-url puts the URL\'s token in the command line, where ps shows it to every local user: set AETHERLENS_WEBHOOK_URL or use --webhook-url-file FILE instead',
    ]);
    // A URL with nothing secret in it (a local relay) is not worth a warning.
    expect(resolve({ pingUrl: 'http://127.0.0.1:8080/', timezone: 'UTC' }).warnings).toEqual([]);
    const missing = problem(() => resolve({ pingUrlFile: join(dir, 'nope'), timezone: 'UTC' }));
    expect(missing).toBe(`cannot read --ping-url-file ${join(dir, 'nope')} (ENOENT): check the path and that this user may read it`);
    await writeFile(join(dir, 'bad'), 'ftp://hc.example/secret-uuid');
    expect(problem(() => resolve({ pingUrlFile: join(dir, 'bad'), timezone: 'UTC' }))).toBe(`the content of ${join(dir, 'bad')} (--ping-url-file) must be an http:// or https:// URL`);
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
      'configuration has 4 problems:\n  - --max-age must be a duration of at least 1 s, such as 90s, 45m, 36h or 2d\n  - the Prometheus file /var/lib/node_exporter/aetherlens.txt must end in .prom (node_exporter\'s textfile collector reads only those)\n  - --ping-url must be an http:// or https:// URL\n  - AETHERLENS_WEBHOOK_URL must be an http:// or https:// URL',
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
      `the schedule config ${join(dir, 'typo.json')} has unknown key(s) backupCorn: known keys are backupCron, timezone, drill, rotate, jobsCron, catchUp, statusFile, promFile, pingUrl, pingUrlFile, webhookUrl, webhookUrlFile, maxBackupAge, grace, killGrace, signalTimeout, signalRetries, jobs, jobsDir, drillCron`,
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
