/**
 * How each kind of device behaves: instantaneous power, state, power factor and temperature as
 * pure functions of (device key, instant). Day-level habits (when the desk is used, when the lamp
 * goes on) are a plan drawn from uniform(key, localDay, n) and cached per device; fine-grained
 * wander comes from smoothNoise, meter jitter from gaussian(key, second). Numbers are typical of
 * the named appliances on a 120 V service; generator.ts derives current and voltage drop.
 */
import type { ProfileKind, Site } from './data.js';
import { civilDay, localTime, utcOffsetMinutes, type LocalTime } from './clock.js';
import { gaussian, hash32, smoothNoise, uniform } from './random.js';
import { ambientTemperature, sunPosition, sunsetMinute } from './sun.js';

export type DeviceState = 'on' | 'off' | 'standby' | 'producing' | 'idle';

export interface Instant {
  watts: number;
  state: DeviceState;
  /** null when nothing flows (0 W): a power factor is undefined then. */
  pf: number | null;
  /** Internal temperature, for devices whose meter reports one. */
  tempC: number | null;
}

export interface ProfileContext {
  /** hash(seed, device id): this device's own randomness. */
  key: number;
  /** hash(seed, "weather"): the sky is the same for every panel of the site. */
  weatherKey: number;
  site: Site;
  /** Scale from the 120 V numbers below to the site's voltage (heaters keep their wattage). */
  voltageScale: number;
  /** Day plans already drawn, by local day number. */
  plans: Map<number, unknown>;
}

/** Minutes [start, end) after a local midnight; end may pass 1440 (into the next day). */
type Window = readonly [number, number] | null;

interface Kind<P> {
  plan(ctx: ProfileContext, day: number): P;
  instant(ctx: ProfileContext, ms: number, local: LocalTime, today: P, yesterday: P): Instant;
}

/** Whether a daily window is open now: today's, or yesterday's running past midnight. */
function during(today: Window, yesterday: Window, minute: number): boolean {
  if (today && minute >= today[0] && minute < today[1]) return true;
  return yesterday !== null && minute + 1440 < yesterday[1];
}

const isWeekday = (day: number) => {
  const weekday = (((day + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
  return weekday >= 1 && weekday <= 5;
};

const sec = (ms: number) => Math.floor(ms / 1000);
const OFF: Instant = { watts: 0, state: 'off', pf: null, tempC: null };

/** A plug's internal temperature: room temperature plus self-heating from the load. */
function plugTemperature(ctx: ProfileContext, local: LocalTime, watts: number): number {
  const room = 20.5 + 0.4 * (ambientTemperature(ctx.site, local.dayOfYear, local.minuteOfDay) - 14);
  return room + 0.012 * watts + 0.3 * gaussian(ctx.key, 91, local.dayNumber);
}

const desk: Kind<{ work: Window; lunch: Window }> = {
  plan(ctx, d) {
    const u = (n: number) => uniform(ctx.key, d, n);
    if (isWeekday(d)) {
      const lunch = 720 + 30 * u(4);
      return u(1) < 0.05 ? { work: null, lunch: null } : { work: [480 + 75 * u(2), 1020 + 120 * u(3)], lunch: [lunch, lunch + 30 + 30 * u(5)] };
    }
    return { work: u(1) < 0.2 ? [780 + 180 * u(2), 1020 + 120 * u(3)] : null, lunch: null };
  },
  instant(ctx, ms, local, today, yesterday) {
    const t = sec(ms);
    let watts: number;
    let pf: number;
    let state: DeviceState = 'on';
    if (!during(today.work, yesterday.work, local.minuteOfDay)) {
      watts = 1.3 + 0.1 * gaussian(ctx.key, t);
      pf = 0.42;
      state = 'standby';
    } else if (during(today.lunch, null, local.minuteOfDay)) {
      watts = 46 + 4 * smoothNoise(ctx.key ^ 1, t, 300) + gaussian(ctx.key, t);
      pf = 0.91;
    } else {
      const burst = smoothNoise(ctx.key ^ 2, t, 1800) > 0.6 ? 85 : 0; // builds, video calls
      watts = 96 + 22 * smoothNoise(ctx.key ^ 3, t, 600) + burst + 2.5 * gaussian(ctx.key, t);
      pf = 0.95 + 0.02 * smoothNoise(ctx.key ^ 4, t, 900);
    }
    return { watts, state, pf, tempC: plugTemperature(ctx, local, watts) };
  },
};

/** An LED lamp: on from around sunset until bedtime, sometimes early on weekday mornings. */
const lamp: Kind<{ evening: Window; morning: Window }> = {
  plan(ctx, d) {
    const u = (n: number) => uniform(ctx.key, d, n);
    const offset = utcOffsetMinutes(ctx.site.timezone, d * 86400000 + 43200000);
    const on = Math.max(1020, sunsetMinute(ctx.site, civilDay(d).dayOfYear, offset) - 30 + 45 * u(1));
    const forgotten = u(3) < 0.03; // left on all night
    return {
      evening: [on, forgotten ? 1860 : 1350 + 90 * u(2)],
      morning: isWeekday(d) && u(4) < 0.5 ? [375 + 30 * u(5), 435 + 30 * u(6)] : null,
    };
  },
  instant(ctx, ms, local, today, yesterday) {
    const m = local.minuteOfDay;
    if (!during(today.evening, yesterday.evening, m) && !during(today.morning, null, m)) return OFF;
    const t = sec(ms);
    return { watts: 11.6 + 0.15 * gaussian(ctx.key, t), state: 'on', pf: 0.6 + 0.01 * gaussian(ctx.key, t, 1), tempC: null };
  },
};

/** Today's sky, the same for every panel: clear, partly cloudy (fast dips) or overcast. */
function cloudFactor(ctx: ProfileContext, t: number, day: number): number {
  const sky = uniform(ctx.weatherKey, day);
  if (sky < 0.6) return 0.97 + 0.03 * smoothNoise(ctx.weatherKey ^ 1, t, 3600);
  if (sky < 0.88) return Math.min(1, Math.max(0.2, 0.62 + 0.55 * smoothNoise(ctx.weatherKey ^ 2, t, 600)));
  return 0.22 + 0.1 * smoothNoise(ctx.weatherKey ^ 3, t, 1800);
}

/** An Enphase IQ7+ behind a 350 W panel: sun-shaped, clipped at 290 W, asleep at night. */
const solar: Kind<null> = {
  plan: () => null,
  instant(ctx, ms, local) {
    const t = sec(ms);
    const ambient = ambientTemperature(ctx.site, local.dayOfYear, local.minuteOfDay);
    const sun = sunPosition(ctx.site, ms);
    if (sun.clearSkyPoa <= 0) return { watts: 0, state: 'idle', pf: null, tempC: ambient };
    const poa = sun.clearSkyPoa * cloudFactor(ctx, t, local.dayNumber);
    const soiling = 0.94 + 0.05 * uniform(ctx.key, 1);
    const dc = 350 * (poa / 1000) * (1 - 0.0037 * (ambient + 0.03 * poa - 25)) * soiling;
    const ac = Math.min(290, 0.965 * dc);
    if (ac < 2) return { watts: 0, state: 'idle', pf: null, tempC: ambient + 0.02 * poa };
    return { watts: ac + 0.4 * gaussian(ctx.key, t), state: 'producing', pf: 0.99 + 0.01 * uniform(ctx.key, t), tempC: ambient + 0.025 * poa };
  },
};

/** Compressor cycles (longer when warm), a daily defrost, electronics in between. */
const fridge: Kind<{ period: number; duty: number; defrostAt: number }> = {
  plan: (ctx, d) => ({ period: 2400 + 1200 * uniform(ctx.key, d, 1), duty: 0.38 + 0.1 * uniform(ctx.key, d, 2), defrostAt: 1440 * uniform(ctx.key, d, 3) }),
  instant(ctx, ms, local, today) {
    const t = sec(ms);
    const warm = (ambientTemperature(ctx.site, local.dayOfYear, local.minuteOfDay) - 14) / 10;
    const duty = Math.min(0.7, today.duty + 0.08 * warm);
    const phase = ((t + uniform(ctx.key, 7) * 86400) % today.period) / today.period;
    let watts: number;
    let pf: number;
    let state: DeviceState = 'on';
    if (local.minuteOfDay >= today.defrostAt && local.minuteOfDay < today.defrostAt + 20) {
      watts = 355 + 3 * gaussian(ctx.key, t);
      pf = 0.99;
    } else if (phase < duty) {
      watts = 118 + 6 * smoothNoise(ctx.key ^ 5, t, 300) + (phase < 0.05 * duty ? 35 : 0) + 1.5 * gaussian(ctx.key, t);
      pf = 0.8 + 0.02 * gaussian(ctx.key, t, 1);
    } else {
      watts = 2.6 + 0.1 * gaussian(ctx.key, t);
      pf = 0.5;
      state = 'standby';
    }
    return { watts, state, pf, tempC: plugTemperature(ctx, local, watts) };
  },
};

const tv: Kind<{ evening: Window; afternoon: Window }> = {
  plan(ctx, d) {
    const u = (n: number) => uniform(ctx.key, d, n);
    return {
      evening: u(1) < 0.85 ? [1140 + 60 * u(2), 1350 + 60 * u(3)] : null,
      afternoon: !isWeekday(d) && u(4) < 0.5 ? [840, 960 + 60 * u(5)] : null,
    };
  },
  instant(ctx, ms, local, today, yesterday) {
    const t = sec(ms);
    if (during(today.evening, yesterday.evening, local.minuteOfDay) || during(today.afternoon, null, local.minuteOfDay)) {
      return { watts: 98 + 18 * smoothNoise(ctx.key ^ 6, t, 120) + gaussian(ctx.key, t), state: 'on', pf: 0.97, tempC: null };
    }
    return { watts: 0.5 + 0.05 * gaussian(ctx.key, t), state: 'standby', pf: 0.3, tempC: null };
  },
};

const network: Kind<null> = {
  plan: () => null,
  instant(ctx, ms) {
    const t = sec(ms);
    return { watts: 13.5 + 1.2 * smoothNoise(ctx.key ^ 7, t, 3600) + 0.3 * gaussian(ctx.key, t), state: 'on', pf: 0.62, tempC: null };
  },
};

/** Zero or one load a day: fill, agitate, drain, rinse, spin (68 minutes). */
const washer: Kind<{ load: Window }> = {
  plan(ctx, d) {
    if (uniform(ctx.key, d, 1) > (isWeekday(d) ? 0.3 : 0.8)) return { load: null };
    const start = 540 + 600 * uniform(ctx.key, d, 2);
    return { load: [start, start + 68] };
  },
  instant(ctx, ms, local, today) {
    const t = sec(ms);
    if (!today.load || !during(today.load, null, local.minuteOfDay)) {
      return { watts: 1.2 + 0.05 * gaussian(ctx.key, t), state: 'standby', pf: 0.35, tempC: null };
    }
    const minute = local.minuteOfDay - today.load[0];
    let watts: number;
    if (minute < 5 || (minute >= 35 && minute < 40)) watts = 18; // filling: valves and controls
    else if (minute < 30) watts = 300 + 110 * Math.sin(t / 7); // agitation
    else if (minute < 35) watts = 85; // drain pump
    else if (minute < 55) watts = 290 + 90 * Math.sin(t / 7); // rinse
    else watts = 540; // spin
    return { watts: watts + 2 * gaussian(ctx.key, t, 1), state: 'on', pf: 0.72, tempC: null };
  },
};

/** Level 1 charging (12 A) from an evening plug-in until the car has the 4-12 kWh it needs. */
const evCharger: Kind<{ session: Window }> = {
  plan(ctx, d) {
    if (uniform(ctx.key, d, 1) > (isWeekday(d) ? 0.6 : 0.35)) return { session: null };
    const start = 1080 + 180 * uniform(ctx.key, d, 2);
    return { session: [start, start + ((4 + 8 * uniform(ctx.key, d, 3)) / 1.42) * 60] };
  },
  instant(ctx, ms, local, today, yesterday) {
    const t = sec(ms);
    if (!during(today.session, yesterday.session, local.minuteOfDay)) return { watts: 2.4 + 0.1 * gaussian(ctx.key, t), state: 'standby', pf: 0.45, tempC: null };
    return { watts: 1425 * ctx.voltageScale + 6 * gaussian(ctx.key, t), state: 'on', pf: 0.99, tempC: null };
  },
};

/** 1500 W, in the cold months only, thermostat cycling in the morning and the evening. */
const spaceHeater: Kind<{ morning: Window; evening: Window }> = {
  plan: (ctx, d) => ({
    morning: [360 + 30 * uniform(ctx.key, d, 1), 480 + 30 * uniform(ctx.key, d, 2)],
    evening: [1080 + 60 * uniform(ctx.key, d, 3), 1350 + 30 * uniform(ctx.key, d, 4)],
  }),
  instant(ctx, ms, local, today) {
    const t = sec(ms);
    const winter = ctx.site.latitude >= 0 ? local.month >= 11 || local.month <= 3 : local.month >= 5 && local.month <= 9;
    if (!winter || (!during(today.morning, null, local.minuteOfDay) && !during(today.evening, null, local.minuteOfDay))) return OFF;
    const cold = (14 - ambientTemperature(ctx.site, local.dayOfYear, local.minuteOfDay)) / 10;
    const duty = Math.min(0.9, Math.max(0.3, 0.55 + 0.3 * cold));
    if ((t % 1200) / 1200 < duty) return { watts: 1496 + 4 * gaussian(ctx.key, t), state: 'on', pf: 1, tempC: null };
    return { watts: 0.8, state: 'standby', pf: 0.4, tempC: null };
  },
};

const KINDS: Record<ProfileKind, Kind<unknown>> = {
  desk: desk as Kind<unknown>,
  lamp: lamp as Kind<unknown>,
  solar: solar as Kind<unknown>,
  fridge: fridge as Kind<unknown>,
  tv: tv as Kind<unknown>,
  network: network as Kind<unknown>,
  washer: washer as Kind<unknown>,
  ev_charger: evCharger as Kind<unknown>,
  space_heater: spaceHeater as Kind<unknown>,
};

function planFor(kind: Kind<unknown>, ctx: ProfileContext, day: number): unknown {
  if (ctx.plans.has(day)) return ctx.plans.get(day);
  if (ctx.plans.size > 16) ctx.plans.clear();
  const plan = kind.plan(ctx, day);
  ctx.plans.set(day, plan);
  return plan;
}

/** What a device of this kind draws (or produces) at an instant. */
export function instantOf(kind: ProfileKind, ctx: ProfileContext, epochMs: number): Instant {
  const k = KINDS[kind];
  const local = localTime(ctx.site.timezone, epochMs);
  return k.instant(ctx, epochMs, local, planFor(k, ctx, local.dayNumber), planFor(k, ctx, local.dayNumber - 1));
}

/** A device's context: its randomness depends on the seed and its id only. */
export function profileContext(seed: number, deviceKey: number, weatherKey: number, site: Site): ProfileContext {
  return { key: hash32(seed, deviceKey), weatherKey: hash32(seed, weatherKey), site, voltageScale: site.nominalVoltage / 120, plans: new Map() };
}
