import cron from 'node-cron';
import { OpsError } from '../errors.js';

/** A cron expression and the IANA time zone its wall-clock fields are read in. */
export interface CronSchedule {
  expression: string;
  timezone: string;
}

/** The local zone of this host, for the default schedule ("02:00 here"). */
export function hostTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/**
 * Throws a one-line CONFIG error unless `timezone` is an IANA zone name this Node knows.
 * `setting` names where the value came from, so the operator knows what to fix.
 */
export function validateTimeZone(timezone: string, setting: string): void {
  // Offsets like "+02:00" are accepted by Intl but have no DST rules: only real zone names.
  const looksLikeName = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(timezone);
  let known = false;
  if (looksLikeName) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: timezone });
      known = true;
    } catch {
      known = false;
    }
  }
  if (!known) {
    throw new OpsError('CONFIG', `${setting} "${timezone}" is not an IANA time zone name: use one such as Europe/Berlin, America/New_York or UTC (see timedatectl list-timezones)`);
  }
}

/**
 * Throws a one-line CONFIG error unless `expression` is a cron expression node-cron accepts
 * (5 fields, or 6 with seconds first), naming the field that is wrong.
 */
export function validateCron(expression: string, setting: string): void {
  const result = cron.validateDetailed(expression);
  if (result.valid) return;
  const first = result.errors[0];
  const what = !first
    ? 'is not valid'
    : first.field === 'expression'
      ? `is not valid (${first.message})`
      : `has an invalid ${first.field} field "${first.value ?? ''}"`;
  throw new OpsError('CONFIG', `${setting} "${expression}" ${what}: use five fields "minute hour day-of-month month day-of-week" (e.g. "0 2 * * *" for 02:00 daily), or six with seconds first`);
}

/** What node-cron's matcher can do; `getNextMatch` is not on the typed surface of node-cron 4. */
interface TimeMatcher {
  match(date: Date): boolean;
  getNextMatch(date: Date): Date;
}

const matchers = new Map<string, TimeMatcher>();

/**
 * node-cron's own matcher for a schedule, so our plans agree with what node-cron fires. A
 * task is created only to reach its matcher and destroyed at once (which unregisters it).
 */
export function matcherFor(schedule: CronSchedule): TimeMatcher {
  const key = `${schedule.timezone}\u0000${schedule.expression}`;
  let matcher = matchers.get(key);
  if (!matcher) {
    const task = cron.createTask(schedule.expression, () => {}, { timezone: schedule.timezone });
    const inner = (task as unknown as { timeMatcher?: TimeMatcher }).timeMatcher;
    void task.destroy();
    // Pinned node-cron 4.6.0 has it; a future version without it must fail loudly here, not misplan.
    if (!inner || typeof inner.getNextMatch !== 'function') throw new Error('node-cron no longer exposes timeMatcher.getNextMatch: update ops/lib/scheduler/cron.ts');
    matcher = inner;
    matchers.set(key, matcher);
  }
  return matcher;
}

/** Whether the wall-clock fields of `wall` (read in UTC) match the expression, whatever the zone. */
export function wallClockMatches(expression: string, wall: Date): boolean {
  return matcherFor({ expression, timezone: 'UTC' }).match(wall);
}

/** The hour/minute/second values the expression allows (node-cron's parser). */
export function timeFields(expression: string): { second: number[]; minute: number[]; hour: number[] } {
  const parsed = cron.parse(expression);
  return { second: parsed.second, minute: parsed.minute, hour: parsed.hour };
}
