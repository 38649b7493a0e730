import { OpsError } from '../errors.js';

/** What a caller may ask of the generator; anything left out takes seeds/generator.json's default. */
export interface GenerateOptions {
  /** Devices with readings: the reference devices first, then synthetic ones. */
  devices?: number;
  /** Days of readings, ending at `end`. */
  days?: number;
  /** Sampling interval: seconds, or text such as 30s, 5m, 1h. Must divide a day. */
  interval?: string | number;
  /** PRNG seed: the same seed gives the same readings. */
  seed?: number;
  /** End of the window (exclusive), truncated to the interval. Default: now. */
  end?: Date | string;
}

/** A validated request: the exact window and its size. */
export interface GenerationPlan {
  devices: number;
  days: number;
  intervalSeconds: number;
  seed: number;
  /** First reading's time. */
  start: Date;
  /** Exclusive end: the last reading is at end - interval. */
  end: Date;
  readingsPerDevice: number;
  totalReadings: number;
}

/**
 * Limits, each with its reason:
 * - maxDevices: synthetic device ids are numbered with 4 digits.
 * - maxDays: 5 years, the longest retention in the schema (daily aggregates); every policy
 *   would drop anything older.
 * - maxRows: a metrics row takes ~150 bytes with its indexes before compression (measured on
 *   1-minute data), so 200 M rows is ~30 GB: what this class of machine (2 cores, ~80 GB free
 *   disk) holds with room for WAL, a dump and a restore drill, and about half an hour of COPY at
 *   the measured ~100 k rows/s (docs/schema.md). The embedded engine loads ~20-30 k rows/s, so there
 *   the practical size is far lower; the limit is about not filling the disk.
 */
export const SEED_LIMITS = { maxDevices: 10_000, maxDays: 1830, maxRows: 200_000_000 } as const;

const DAY_S = 86_400;
const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

const fmt = (n: number) => n.toLocaleString('en-US');

function usage(message: string): never {
  throw new OpsError('USAGE', message);
}

/** Seconds in an interval given as a number of seconds or as text like 90s, 5m, 1h, 1d. */
export function parseInterval(value: string | number): number {
  const text = String(value).trim();
  const m = /^(\d+)\s*(s|m|h|d)?$/i.exec(text);
  if (!m) usage(`interval "${text}" is not a duration: use a whole number with s, m or h, such as 30s, 5m or 1h`);
  return Number(m[1]) * UNITS[(m[2] ?? 's').toLowerCase()]!;
}

function wholeNumber(name: string, value: number, min: number, max: number, why: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    usage(`${name} must be a whole number from ${fmt(min)} to ${fmt(max)} (got ${String(value)}): ${why}`);
  }
  return value;
}

/** Validates options against the limits and fixes the window. Throws OpsError('USAGE') with the fix. */
export function planGeneration(
  options: GenerateOptions,
  defaults: { devices: number; days: number; interval: string | number; seed: number },
  now: number = Date.now(),
): GenerationPlan {
  const devices = wholeNumber('devices', options.devices ?? defaults.devices, 1, SEED_LIMITS.maxDevices,
    `ask for at least 1 (the sample is 3); synthetic ids stop at ${fmt(SEED_LIMITS.maxDevices)}`);
  const days = wholeNumber('days', options.days ?? defaults.days, 1, SEED_LIMITS.maxDays,
    `${fmt(SEED_LIMITS.maxDays)} days is 5 years, the longest retention in the schema; use fewer days`);
  const seed = wholeNumber('seed', options.seed ?? defaults.seed, 0, 4_294_967_295, 'use any 32-bit unsigned integer');
  const rawInterval = options.interval ?? defaults.interval;
  const intervalSeconds = parseInterval(rawInterval);
  if (intervalSeconds < 1 || intervalSeconds > DAY_S || DAY_S % intervalSeconds !== 0) {
    usage(`interval ${String(rawInterval).trim()} (${fmt(intervalSeconds)} s) does not divide a day (86,400 s): use one that does, such as 10s, 1m, 5m, 15m or 1h`);
  }
  const perDay = DAY_S / intervalSeconds;
  const totalReadings = devices * days * perDay;
  if (totalReadings > SEED_LIMITS.maxRows) {
    usage(`devices × days × readings per day = ${fmt(devices)} × ${fmt(days)} × ${fmt(perDay)} = ${fmt(totalReadings)} rows, above the limit of ${fmt(SEED_LIMITS.maxRows)} (~30 GB before compression): use fewer devices or days, or a longer interval`);
  }
  const endInput = options.end === undefined ? now : new Date(options.end).getTime();
  if (!Number.isFinite(endInput)) usage(`end "${String(options.end)}" is not a date: use an ISO 8601 time such as 2024-07-01T00:00:00Z`);
  const step = intervalSeconds * 1000;
  const end = Math.floor(endInput / step) * step;
  const start = end - days * DAY_S * 1000;
  return {
    devices,
    days,
    intervalSeconds,
    seed,
    start: new Date(start),
    end: new Date(end),
    readingsPerDevice: days * perDay,
    totalReadings,
  };
}
