import { localTime } from './clock.js';

/** The shape of rate_schedules.rates (checked by the table too; see docs/schema.md). */
export interface Rates {
  default_period: string;
  prices_per_kwh: Record<string, number>;
  windows?: RateWindow[];
}

export type Weekday = 'sun' | 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat';

/** A period in force on some weekdays between two local clock times ("24:00" ends the day). */
export interface RateWindow {
  period: string;
  days: Weekday[];
  start: string;
  end: string;
}

const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function minutes(clock: string): number {
  const m = /^([01][0-9]|2[0-4]):([0-5][0-9])$/.exec(clock);
  if (!m || (m[1] === '24' && m[2] !== '00')) throw new Error(`"${clock}" is not a clock time HH:MM`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** Throws an Error naming the first problem; used when seed files are read. */
export function assertRates(rates: Rates): void {
  const prices = rates.prices_per_kwh ?? {};
  if (!(rates.default_period in prices)) throw new Error(`default_period "${rates.default_period}" has no price`);
  for (const [period, price] of Object.entries(prices)) {
    if (typeof price !== 'number' || !(price >= 0) || price > 10) throw new Error(`price of "${period}" must be 0-10 per kWh`);
  }
  for (const w of rates.windows ?? []) {
    if (!(w.period in prices)) throw new Error(`window period "${w.period}" has no price`);
    if (!Array.isArray(w.days) || w.days.length === 0 || w.days.some((d) => !WEEKDAYS.includes(d))) throw new Error(`window days must be some of ${WEEKDAYS.join(', ')}`);
    if (minutes(w.start) >= minutes(w.end)) throw new Error(`window ${w.start}-${w.end} must end after it starts`);
  }
}

/** A schedule ready to price instants: windows pre-parsed. */
export interface Pricer {
  (epochMs: number): { period: string; pricePerKwh: number };
}

/**
 * Prices an instant with a schedule: the first window containing the local time wins, otherwise
 * the default period. Weekdays and clock times are those of the schedule's time zone.
 */
export function pricer(rates: Rates, timeZone: string): Pricer {
  const windows = (rates.windows ?? []).map((w) => ({
    period: w.period,
    days: new Set(w.days.map((d) => WEEKDAYS.indexOf(d))),
    start: minutes(w.start),
    end: minutes(w.end),
  }));
  const price = (period: string) => ({ period, pricePerKwh: rates.prices_per_kwh[period]! });
  const fallback = price(rates.default_period);
  return (epochMs: number) => {
    if (windows.length === 0) return fallback;
    const local = localTime(timeZone, epochMs);
    for (const w of windows) {
      if (w.days.has(local.weekday) && local.minuteOfDay >= w.start && local.minuteOfDay < w.end) return price(w.period);
    }
    return fallback;
  };
}
