import { matcherFor, timeFields, wallClockMatches, type CronSchedule } from './cron.js';

/**
 * Where time comes from. The scheduler reads time only through this, so tests can place it
 * just before a daylight-saving change while the backups themselves stay real.
 */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** One upcoming run: node-cron's own tick, or our replacement for a slot DST skipped. */
export interface PlannedRun {
  at: Date;
  reason: 'cron' | 'dst-gap';
}

const HOUR = 3_600_000;
const MINUTE = 60_000;
/** How far ahead a plan looks for DST gaps; monthly schedules need a long view. */
const MAX_HORIZON_MS = 400 * 24 * HOUR;

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();

/** UTC offset of `timezone` at `ms`, in minutes (Berlin in summer: 120). */
export function offsetMinutes(ms: number, timezone: string): number {
  let format = offsetFormatters.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: timezone, timeZoneName: 'longOffset' });
    offsetFormatters.set(timezone, format);
  }
  const name = format.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /^GMT([+-])(\d{2}):(\d{2})$/.exec(name);
  return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
}

/** Whether the expression names a wall-clock second in [startWall, endWall) (wall times as UTC ms). */
function slotInWindow(expression: string, startWall: number, endWall: number): boolean {
  const fields = timeFields(expression);
  const days = new Set([Math.floor(startWall / (24 * HOUR)), Math.floor((endWall - 1) / (24 * HOUR))]);
  for (const day of days) {
    for (const hour of fields.hour) {
      for (const minute of fields.minute) {
        for (const second of fields.second) {
          const wall = day * 24 * HOUR + hour * HOUR + minute * MINUTE + second * 1000;
          // The day-of-month/month/weekday fields are checked on the wall date itself.
          if (wall >= startWall && wall < endWall && wallClockMatches(expression, new Date(wall))) return true;
        }
      }
    }
  }
  return false;
}

/**
 * The next moment after `from` when a spring-forward change skips a wall-clock slot of the
 * schedule (02:30 in Europe/Berlin on the last Sunday of March), or undefined within the horizon.
 * node-cron 4 silently skips such a slot until the next day; we run it once, at the instant the
 * clock jumps (03:00 local), as Vixie cron does. When node-cron fires at that instant anyway
 * (e.g. every 15 minutes), no extra run is added.
 */
export function nextDstGapRun(schedule: CronSchedule, from: Date, horizonMs: number = 2 * 24 * HOUR): Date | undefined {
  const matcher = matcherFor(schedule);
  const end = from.getTime() + Math.min(horizonMs, MAX_HORIZON_MS);
  let t = Math.floor(from.getTime() / MINUTE) * MINUTE;
  let offset = offsetMinutes(t, schedule.timezone);
  while (t < end) {
    const next = t + HOUR;
    const nextOffset = offsetMinutes(next, schedule.timezone);
    if (nextOffset > offset) {
      // Transitions fall on whole minutes: bisect to the first minute with the new offset.
      let lo = t;
      let hi = next;
      while (hi - lo > MINUTE) {
        const mid = lo + Math.floor((hi - lo) / MINUTE / 2) * MINUTE;
        if (offsetMinutes(mid, schedule.timezone) > offset) hi = mid;
        else lo = mid;
      }
      const jump = hi;
      const skipped = slotInWindow(schedule.expression, jump + offset * MINUTE, jump + nextOffset * MINUTE);
      const cronFiresThen = matcher.getNextMatch(new Date(jump - 1000)).getTime() === jump;
      if (jump > from.getTime() && skipped && !cronFiresThen) return new Date(jump);
    }
    t = next;
    offset = nextOffset;
  }
  return undefined;
}

/**
 * The next `count` runs after `from`: node-cron's ticks (computed by node-cron's own matcher),
 * plus one run for each slot a DST jump skipped. A repeated hour (autumn) runs once: node-cron
 * matches the wall-clock slot once, at its second occurrence.
 */
export function plannedRuns(schedule: CronSchedule, from: Date, count: number): PlannedRun[] {
  const matcher = matcherFor(schedule);
  const runs: PlannedRun[] = [];
  let cursor = from;
  for (let i = 0; i < count; i++) {
    cursor = matcher.getNextMatch(cursor);
    runs.push({ at: cursor, reason: 'cron' });
  }
  const last = runs.at(-1)?.at.getTime() ?? from.getTime();
  let gapFrom = from;
  for (;;) {
    const gap = nextDstGapRun(schedule, gapFrom, last - gapFrom.getTime());
    if (!gap) break;
    runs.push({ at: gap, reason: 'dst-gap' });
    gapFrom = gap;
  }
  return runs.sort((a, b) => a.at.getTime() - b.at.getTime()).slice(0, count);
}

/**
 * The longest wait between two planned runs over the next 16: what "one interval" means for
 * catch-up and for the default staleness threshold (weekday-only schedules: the weekend).
 */
export function intervalSeconds(schedule: CronSchedule, from: Date): number {
  const runs = plannedRuns(schedule, from, 17);
  let longest = 0;
  for (let i = 1; i < runs.length; i++) longest = Math.max(longest, runs[i]!.at.getTime() - runs[i - 1]!.at.getTime());
  return Math.round(longest / 1000);
}
