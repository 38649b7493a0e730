/**
 * The deterministic reading generator. A reading is a pure function of (seed, device id, time):
 * the same options give the same rows, and two windows agree wherever they overlap.
 *
 * Conventions (the same as metrics in migration 002):
 * - time is the start of the interval; power is the mean power over [time, time + interval),
 *   sampled up to 12 times inside the interval (once a minute for 5-minute data), so duty cycles
 *   average the way a real meter integrates them.
 * - energy is the energy of that interval (not a cumulative counter): power × interval.
 * - Quantised like real meters: 0.1 W, 0.001 Wh, 0.1 V, 0.001 A, 0.01 power factor, 0.01 Hz,
 *   0.1 °C. Values are integers in those units, which is how metrics stores them (002).
 * - The grid (one site, nominalVoltage/nominalFrequency from seeds/generator.json): voltage sags
 *   in the evening peak and wanders slowly, the same for every device at the same instant, minus
 *   each device's own wiring drop (I × R); frequency wanders a few hundredths of a hertz.
 */
import type { DeviceSeed, Site } from './data.js';
import { localTime } from './clock.js';
import { gaussian, hash32, hashString, smoothNoise, uniform } from './random.js';
import { instantOf, profileContext, type DeviceState, type ProfileContext } from './profiles.js';

/** One generated row of metrics, in integer meter units. */
export interface Reading {
  /** Interval start, epoch milliseconds. */
  time: number;
  deciWatts: number;
  milliWattHours: number;
  deciVolts: number;
  milliAmps: number;
  /** null when no current flows. */
  centiPowerFactor: number | null;
  centiHertz: number;
  /** null for meters without a thermometer (TP-Link plugs, most simulated plugs). */
  deciCelsius: number | null;
  state: DeviceState;
}

/** What the generator needs to know about one device; build it once with deviceModel(). */
export interface DeviceModel {
  device: DeviceSeed;
  profile: ProfileContext;
  /** Wiring resistance between the service panel and the device, ohms. */
  wiringOhms: number;
  gridKey: number;
  site: Site;
}

const WEATHER = hashString('weather');
const GRID = hashString('grid');

/** Prepares a device for generation with a seed. */
export function deviceModel(device: DeviceSeed, seed: number, site: Site): DeviceModel {
  const deviceKey = hashString(device.deviceId);
  return {
    device,
    profile: profileContext(seed, deviceKey, WEATHER, site),
    wiringOhms: 0.05 + 0.12 * uniform(seed, deviceKey, 17),
    gridKey: hash32(seed, GRID),
    site,
  };
}

/** The site's voltage (before the device's wiring drop) and frequency at an instant. */
export function gridAt(model: DeviceModel, epochMs: number): { volts: number; hertz: number } {
  const t = Math.floor(epochMs / 1000);
  const local = localTime(model.site.timezone, epochMs);
  const eveningPeak = Math.exp(-(((local.minuteOfDay - 1140) / 120) ** 2));
  const volts120 = 121.2 - 2 * eveningPeak + 1.1 * smoothNoise(model.gridKey, t, 1800) + 0.25 * gaussian(model.gridKey, t);
  const hertz = model.site.nominalFrequency + 0.015 * smoothNoise(model.gridKey ^ 9, t, 300) + 0.004 * gaussian(model.gridKey ^ 9, t);
  return { volts: (volts120 * model.site.nominalVoltage) / 120, hertz };
}

/** One reading for the interval starting at `time`. */
export function readingAt(model: DeviceModel, time: number, intervalSeconds: number): Reading {
  const samples = Math.min(12, Math.max(1, Math.round(intervalSeconds / 60)));
  const step = (intervalSeconds * 1000) / samples;
  let watts = 0;
  let weightedPf = 0;
  let peak = -1;
  let state: DeviceState = 'off';
  let tempC: number | null = null;
  for (let j = 0; j < samples; j++) {
    const instant = instantOf(model.device.profile, model.profile, time + (j + 0.5) * step);
    const w = Math.max(0, instant.watts);
    watts += w;
    weightedPf += w * (instant.pf ?? 1);
    if (w > peak) {
      peak = w;
      state = instant.state;
    }
    if (j === 0) tempC = instant.tempC;
  }
  const deciWatts = Math.round((watts / samples) * 10);
  const grid = gridAt(model, time + intervalSeconds * 500);
  const pf = deciWatts === 0 ? null : Math.min(1, Math.max(0.05, weightedPf / watts));
  const centiPowerFactor = pf === null ? null : Math.round(pf * 100);
  // The meter sits at the device: it sees the site voltage minus its wiring's drop, I = P / (V × PF).
  const firstGuess = pf === null ? 0 : deciWatts / 10 / (grid.volts * (centiPowerFactor! / 100));
  const volts = grid.volts - firstGuess * model.wiringOhms;
  const amps = pf === null ? 0 : deciWatts / 10 / (volts * (centiPowerFactor! / 100));
  return {
    time,
    deciWatts,
    milliWattHours: Math.round((deciWatts * intervalSeconds) / 36),
    deciVolts: Math.round(volts * 10),
    milliAmps: Math.round(amps * 1000),
    centiPowerFactor,
    centiHertz: Math.round(grid.hertz * 100),
    deciCelsius: tempC === null ? null : Math.round(tempC * 10),
    state,
  };
}

/** Readings at start, start + interval, ... up to (not including) end. */
export function* readings(model: DeviceModel, start: number, end: number, intervalSeconds: number): Generator<Reading> {
  const step = intervalSeconds * 1000;
  for (let time = start; time < end; time += step) yield readingAt(model, time, intervalSeconds);
}
