/** Local wall-clock time in an IANA zone, fast enough to ask for every generated reading. */

export interface LocalTime {
  /** 0 = Sunday ... 6 = Saturday. */
  weekday: number;
  /** Minutes since local midnight, fractional. */
  minuteOfDay: number;
  /** 1 ... 366. */
  dayOfYear: number;
  /** 1 ... 12. */
  month: number;
  /** Days since 1970-01-01 in local time: a key for "the same local day". */
  dayNumber: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const offsets = new Map<string, number>();
/** Offsets change at most every 15 minutes of UTC (zones with :30/:45 offsets included). */
const SLOT_MS = 15 * 60 * 1000;

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Throws a RangeError for a zone the runtime does not know. */
export function assertTimeZone(timeZone: string): void {
  formatter(timeZone);
}

/** The zone's UTC offset in minutes at this instant (e.g. -420 for PDT). */
export function utcOffsetMinutes(timeZone: string, epochMs: number): number {
  const slot = Math.floor(epochMs / SLOT_MS) * SLOT_MS;
  const key = `${timeZone}@${slot}`;
  const cached = offsets.get(key);
  if (cached !== undefined) return cached;
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(slot))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const asUtc = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!);
  const offset = Math.round((asUtc - slot) / 60000);
  if (offsets.size > 200_000) offsets.clear();
  offsets.set(key, offset);
  return offset;
}

/** Weekday, minute of day, day of year and month of an instant, in the zone. */
export function localTime(timeZone: string, epochMs: number): LocalTime {
  const localMs = epochMs + utcOffsetMinutes(timeZone, epochMs) * 60000;
  const d = new Date(localMs);
  const dayNumber = Math.floor(localMs / 86400000);
  const startOfYear = Date.UTC(d.getUTCFullYear(), 0, 1);
  return {
    weekday: d.getUTCDay(),
    minuteOfDay: (localMs - dayNumber * 86400000) / 60000,
    dayOfYear: Math.floor((localMs - startOfYear) / 86400000) + 1,
    month: d.getUTCMonth() + 1,
    dayNumber,
  };
}
