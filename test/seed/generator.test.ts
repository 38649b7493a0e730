import { describe, expect, it } from 'vitest';
import { localTime } from '../../ops/lib/seed/clock.js';
import { loadGeneratorSettings, loadReferenceData } from '../../ops/lib/seed/data.js';
import { deviceCatalog } from '../../ops/lib/seed/devices.js';
import { deviceModel, readings, type Reading } from '../../ops/lib/seed/generator.js';
import { pricer } from '../../ops/lib/seed/rates.js';
import { hash32, mulberry32, uniform } from '../../ops/lib/seed/random.js';

const reference = await loadReferenceData();
const { site } = await loadGeneratorSettings();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// Two summer weeks ending on a Monday, local midnight in California (UTC-7).
const end = Date.parse('2024-07-15T07:00:00Z');
const start = end - 14 * DAY;

function series(deviceId: string, seed = 1, from = start, to = end, interval = 300): Reading[] {
  const device = deviceCatalog(reference, 20).find((d) => d.deviceId === deviceId)!;
  return [...readings(deviceModel(device, seed, site), from, to, interval)];
}

/** Mean power by local hour of day. */
function byLocalHour(rows: Reading[]): number[] {
  const sum = new Array<number>(24).fill(0);
  const count = new Array<number>(24).fill(0);
  for (const r of rows) {
    const h = Math.floor(localTime(site.timezone, r.time).minuteOfDay / 60);
    sum[h]! += r.deciWatts / 10;
    count[h]!++;
  }
  return sum.map((s, h) => s / count[h]!);
}

describe('random', () => {
  it('mulberry32 is deterministic and roughly uniform', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(Math.abs(xs.reduce((s, x) => s + x, 0) / xs.length - 0.5)).toBeLessThan(0.02);
    expect(hash32(1, 2)).not.toBe(hash32(2, 1));
    expect(uniform(7, 8)).toBe(uniform(7, 8));
  });
});

describe('generator', () => {
  it('is deterministic: the same seed gives the same readings, another seed different ones', () => {
    expect(series('shelly-office-01', 1)).toEqual(series('shelly-office-01', 1));
    expect(series('shelly-office-01', 2)).not.toEqual(series('shelly-office-01', 1));
  });

  it('gives the same reading for an instant whatever window asks for it', () => {
    const whole = series('tp-link-living-room', 5);
    const tail = series('tp-link-living-room', 5, start + 3 * DAY + 35 * 60_000);
    expect(whole.slice(whole.length - tail.length)).toEqual(tail);
  });

  it('quantises like a meter and keeps the electrical quantities consistent', () => {
    const problems: string[] = [];
    for (const id of ['shelly-office-01', 'tp-link-living-room', 'solar-inverter-01', 'sim-fridge-0001', 'sim-ev-charger-0005']) {
      for (const r of series(id)) {
        const at = `${id} ${new Date(r.time).toISOString()}`;
        if (![r.deciWatts, r.milliWattHours, r.deciVolts, r.milliAmps, r.centiHertz].every(Number.isInteger)) problems.push(`${at}: not quantised`);
        if (r.milliWattHours !== Math.round((r.deciWatts * 300) / 36)) problems.push(`${at}: energy is not P × 5 min`);
        if (r.deciVolts < 1140 || r.deciVolts > 1260) problems.push(`${at}: ${r.deciVolts / 10} V outside ANSI C84.1 range A`);
        if (Math.abs(r.centiHertz - 6000) > 5) problems.push(`${at}: ${r.centiHertz / 100} Hz`);
        if (r.deciWatts === 0 && (r.milliAmps !== 0 || r.centiPowerFactor !== null)) problems.push(`${at}: current without power`);
        if (r.deciWatts > 0) {
          const amps = r.deciWatts / 10 / ((r.deciVolts / 10) * (r.centiPowerFactor! / 100));
          if (Math.abs(r.milliAmps / 1000 - amps) > 0.002 + amps * 0.001) problems.push(`${at}: I ≠ P / (V × PF)`);
        }
      }
    }
    expect(problems.slice(0, 5)).toEqual([]);
  });

  it('solar produces nothing at night and peaks around solar noon', () => {
    const rows = series('solar-inverter-01');
    const hours = byLocalHour(rows);
    for (const h of [0, 1, 2, 3, 4, 22, 23]) expect(hours[h]).toBe(0);
    expect(rows.filter((r) => r.deciWatts === 0).every((r) => r.state === 'idle')).toBe(true);
    const peak = hours.indexOf(Math.max(...hours));
    expect(peak).toBeGreaterThanOrEqual(11);
    expect(peak).toBeLessThanOrEqual(14);
    expect(Math.max(...rows.map((r) => r.deciWatts))).toBeLessThanOrEqual(2910); // IQ7+ clips at 290 W
  });

  it('the lamp is on in the evening, not during the day', () => {
    const hours = byLocalHour(series('tp-link-living-room'));
    const evening = (hours[20]! + hours[21]! + hours[22]!) / 3;
    const day = hours.slice(9, 17).reduce((s, x) => s + x, 0) / 8;
    expect(day).toBe(0);
    expect(evening).toBeGreaterThan(5);
  });

  it('the desk plug works on weekdays and idles on standby at night', () => {
    const rows = series('shelly-office-01');
    const weekday = rows.filter((r) => [1, 2, 3, 4, 5].includes(localTime(site.timezone, r.time).weekday));
    const weekend = rows.filter((r) => [0, 6].includes(localTime(site.timezone, r.time).weekday));
    const mean = (xs: Reading[]) => xs.reduce((s, r) => s + r.deciWatts / 10, 0) / xs.length;
    expect(mean(weekday)).toBeGreaterThan(2 * mean(weekend));
    const night = rows.filter((r) => localTime(site.timezone, r.time).minuteOfDay < 300);
    expect(night.every((r) => r.state === 'standby' && r.deciWatts < 30)).toBe(true);
  });

  it('names synthetic devices by position only, and prices consumers with the TOU schedule', () => {
    const catalog = deviceCatalog(reference, 14);
    expect(catalog.map((d) => d.deviceId)).toMatchInlineSnapshot(`
      [
        "shelly-office-01",
        "tp-link-living-room",
        "solar-inverter-01",
        "sim-fridge-0001",
        "sim-tv-0002",
        "sim-network-0003",
        "sim-washer-0004",
        "sim-ev-charger-0005",
        "sim-desk-0006",
        "sim-lamp-0007",
        "sim-space-heater-0008",
        "sim-solar-0009",
        "sim-fridge-0010",
        "sim-tv-0011",
      ]
    `);
    expect(catalog.filter((d) => d.rateSchedule === null).map((d) => d.deviceId)).toEqual(['solar-inverter-01', 'sim-solar-0009']);
    expect(deviceCatalog(reference, 1).map((d) => d.deviceId)).toEqual(['shelly-office-01']);
  });
});

describe('rate schedules', () => {
  const tou = reference.rateSchedules.find((s) => s.scheduleType === 'tou')!;
  const price = pricer(tou.rates, tou.timezone);

  it('price PG&E summer hours by local weekday and clock time', () => {
    // 2024-07-15 is a Monday; California is UTC-7 in summer.
    expect(price(Date.parse('2024-07-15T23:30:00Z'))).toEqual({ period: 'peak', pricePerKwh: 0.62 }); // Mon 16:30
    expect(price(Date.parse('2024-07-15T22:30:00Z'))).toEqual({ period: 'partial_peak', pricePerKwh: 0.51 }); // Mon 15:30
    expect(price(Date.parse('2024-07-16T05:30:00Z'))).toEqual({ period: 'partial_peak', pricePerKwh: 0.51 }); // Mon 22:30
    expect(price(Date.parse('2024-07-15T17:00:00Z'))).toEqual({ period: 'off_peak', pricePerKwh: 0.38 }); // Mon 10:00
    expect(price(Date.parse('2024-07-14T00:30:00Z'))).toEqual({ period: 'partial_peak', pricePerKwh: 0.51 }); // Sat 17:30
    expect(price(Date.parse('2024-07-14T06:30:00Z'))).toEqual({ period: 'off_peak', pricePerKwh: 0.38 }); // Sat 23:30
  });

  it('price a flat plan the same at every hour', () => {
    const flat = reference.rateSchedules.find((s) => s.scheduleType === 'flat')!;
    const p = pricer(flat.rates, flat.timezone);
    expect(new Set(Array.from({ length: 48 }, (_, h) => p(start + h * HOUR).pricePerKwh))).toEqual(new Set([0.3]));
  });
});
