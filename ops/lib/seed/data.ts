import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpsError } from '../errors.js';
import { assertTimeZone } from './clock.js';
import { assertRates, type Rates } from './rates.js';

/** The repository's seeds folder (data read by the library, DESIGN section 1). */
export const DEFAULT_SEEDS_DIR = resolve(fileURLToPath(new URL('../../../seeds', import.meta.url)));

/** What a generated device does over a day; see profiles.ts. */
export type ProfileKind = 'desk' | 'lamp' | 'solar' | 'fridge' | 'tv' | 'network' | 'washer' | 'ev_charger' | 'space_heater';

export interface PluginSeed {
  pluginId: string;
  name: string;
  version: string;
  config: Record<string, unknown>;
}

export interface RateScheduleSeed {
  name: string;
  utility: string | null;
  scheduleType: 'flat' | 'tou' | 'tiered';
  currency: string;
  timezone: string;
  effectiveFrom: string;
  effectiveTo: string | null;
  rates: Rates;
}

export interface DeviceSeed {
  deviceId: string;
  name: string;
  deviceType: string;
  manufacturer: string | null;
  model: string | null;
  location: string | null;
  pluginId: string | null;
  /** A rate schedule's name, or null for producers and unpriced devices. */
  rateSchedule: string | null;
  profile: ProfileKind;
  metadata: Record<string, unknown>;
}

export interface UserSeed {
  username: string;
  email: string | null;
  role: 'admin' | 'user' | 'viewer';
  /** admin-option: the caller's admin password, or one generated and returned once; random: nobody's. */
  passwordSource: 'admin-option' | 'random';
}

export interface ReferenceData {
  plugins: PluginSeed[];
  rateSchedules: RateScheduleSeed[];
  devices: DeviceSeed[];
  users: UserSeed[];
}

/** Where the sample home is: its clock and its grid. */
export interface Site {
  timezone: string;
  latitude: number;
  longitude: number;
  nominalVoltage: 120 | 230;
  nominalFrequency: 50 | 60;
}

export interface GeneratorSettings {
  site: Site;
  defaults: { devices: number; days: number; interval: string; seed: number };
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new OpsError('CONFIG', `seed file ${path} cannot be read: restore it from the repository (git checkout -- seeds/), or pass the folder that holds it`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new OpsError('CONFIG', `seed file ${path} is not valid JSON (${(error as Error).message}): fix the file`, { cause: error });
  }
}

function fail(path: string, what: string): never {
  throw new OpsError('CONFIG', `seed file ${path}: ${what}: fix the file`);
}

/** Reads seeds/reference.json and checks what the schema would otherwise reject half-way through. */
export async function loadReferenceData(dir = DEFAULT_SEEDS_DIR): Promise<ReferenceData> {
  const path = join(dir, 'reference.json');
  const data = (await readJson(path)) as Partial<ReferenceData>;
  for (const key of ['plugins', 'rateSchedules', 'devices', 'users'] as const) {
    if (!Array.isArray(data[key])) fail(path, `"${key}" must be a list`);
  }
  const ref = data as ReferenceData;
  const scheduleNames = new Set(ref.rateSchedules.map((s) => s.name));
  for (const s of ref.rateSchedules) {
    try {
      assertTimeZone(s.timezone);
      assertRates(s.rates);
    } catch (error) {
      fail(path, `rate schedule "${s.name}" is invalid (${(error as Error).message})`);
    }
  }
  const plugins = new Set(ref.plugins.map((p) => p.pluginId));
  for (const d of ref.devices) {
    if (d.rateSchedule !== null && !scheduleNames.has(d.rateSchedule)) fail(path, `device ${d.deviceId} names an unknown rate schedule "${d.rateSchedule}"`);
    if (d.pluginId !== null && !plugins.has(d.pluginId)) fail(path, `device ${d.deviceId} names an unknown plugin "${d.pluginId}"`);
  }
  if (ref.devices.length === 0) fail(path, 'there must be at least one device');
  return ref;
}

/** Reads seeds/generator.json: the site and the sample's default options. */
export async function loadGeneratorSettings(dir = DEFAULT_SEEDS_DIR): Promise<GeneratorSettings> {
  const path = join(dir, 'generator.json');
  const data = (await readJson(path)) as Partial<GeneratorSettings>;
  const site = data.site;
  if (!site || typeof site.latitude !== 'number' || Math.abs(site.latitude) > 66) fail(path, 'site.latitude must be a number between -66 and 66');
  if (typeof site.longitude !== 'number' || Math.abs(site.longitude) > 180) fail(path, 'site.longitude must be a number between -180 and 180');
  if (site.nominalVoltage !== 120 && site.nominalVoltage !== 230) fail(path, 'site.nominalVoltage must be 120 or 230');
  if (site.nominalFrequency !== 50 && site.nominalFrequency !== 60) fail(path, 'site.nominalFrequency must be 50 or 60');
  try {
    assertTimeZone(site.timezone);
  } catch {
    fail(path, `site.timezone "${site.timezone}" is not a time zone this runtime knows`);
  }
  if (!data.defaults) fail(path, '"defaults" is missing');
  return data as GeneratorSettings;
}
