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

/** Offsets change at most on a 15-minute boundary of UTC (zones with :30/:45 offsets included). */
const SLOT_MS = 15 * 60 * 1000;
const DAY_MS = 86_400_000;

interface ZoneState {
  format: Intl.DateTimeFormat;
  offsets: Map<number, number>;
}

const zones = new Map<string, ZoneState>();

function zone(timeZone: string): ZoneState {
  let z = zones.get(timeZone);
  if (!z) {
    const format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    z = { format, offsets: new Map() };
    zones.set(timeZone, z);
  }
  return z;
}

/** Throws a RangeError for a zone the runtime does not know. */
export function assertTimeZone(timeZone: string): void {
  zone(timeZone);
}

/** The zone's UTC offset in minutes at this instant (e.g. -420 for PDT). */
export function utcOffsetMinutes(timeZone: string, epochMs: number): number {
  const z = zone(timeZone);
  const slot = Math.floor(epochMs / SLOT_MS);
  const cached = z.offsets.get(slot);
  if (cached !== undefined) return cached;
  const parts: Record<string, number> = {};
  for (const p of z.format.formatToParts(new Date(slot * SLOT_MS))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const asUtc = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!);
  const offset = Math.round((asUtc - slot * SLOT_MS) / 60000);
  if (z.offsets.size > 100_000) z.offsets.clear();
  z.offsets.set(slot, offset);
  return offset;
}

/** Month (1-12) and day of year (1-366) of a day number (days since 1970-01-01), proleptic Gregorian. */
export function civilDay(dayNumber: number): { month: number; dayOfYear: number } {
  // Howard Hinnant's civil_from_days, with the year starting in March.
  const z = dayNumber + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const dayOfYear = month <= 2 ? doy - 305 : doy + 60 + (leap ? 1 : 0);
  return { month, dayOfYear };
}

/** Weekday, minute of day, day of year and month of an instant, in the zone. */
export function localTime(timeZone: string, epochMs: number): LocalTime {
  const localMs = epochMs + utcOffsetMinutes(timeZone, epochMs) * 60000;
  const dayNumber = Math.floor(localMs / DAY_MS);
  const { month, dayOfYear } = civilDay(dayNumber);
  return {
    weekday: (((dayNumber + 4) % 7) + 7) % 7, // 1970-01-01 was a Thursday
    minuteOfDay: (localMs - dayNumber * DAY_MS) / 60000,
    dayOfYear,
    month,
    dayNumber,
  };
}
