import type { DeviceSeed, ProfileKind, ReferenceData } from './data.js';

/** Synthetic devices cycle through these kinds, so any count gives a plausible household. */
const SYNTHETIC_KINDS: readonly ProfileKind[] = ['fridge', 'tv', 'network', 'washer', 'ev_charger', 'desk', 'lamp', 'space_heater', 'solar'];

interface KindTemplate {
  name: string;
  deviceType: string;
  manufacturer: string;
  model: string;
  location: string;
  pluginId: string;
  load: string;
}

const TEMPLATES: Record<ProfileKind, KindTemplate> = {
  fridge: { name: 'Kitchen Fridge', deviceType: 'smart_plug', manufacturer: 'Shelly', model: 'Shelly Plug US', location: 'Kitchen', pluginId: 'shelly', load: 'refrigerator' },
  tv: { name: 'Television', deviceType: 'smart_plug', manufacturer: 'TP-Link', model: 'KP115', location: 'Living Room', pluginId: 'tplink-kasa', load: 'television and sound bar' },
  network: { name: 'Network Rack', deviceType: 'smart_plug', manufacturer: 'TP-Link', model: 'KP115', location: 'Hallway', pluginId: 'tplink-kasa', load: 'modem, router and switch' },
  washer: { name: 'Washing Machine', deviceType: 'smart_plug', manufacturer: 'Shelly', model: 'Shelly Plug US', location: 'Laundry', pluginId: 'shelly', load: 'washing machine' },
  ev_charger: { name: 'EV Charger', deviceType: 'ev_charger', manufacturer: 'Shelly', model: 'Shelly Pro EM-50', location: 'Garage', pluginId: 'shelly', load: 'level 1 EV charging (12 A)' },
  desk: { name: 'Desk Plug', deviceType: 'smart_plug', manufacturer: 'Shelly', model: 'Shelly Plug S', location: 'Office', pluginId: 'shelly', load: 'workstation' },
  lamp: { name: 'Lamp', deviceType: 'smart_plug', manufacturer: 'TP-Link', model: 'HS110', location: 'Bedroom', pluginId: 'tplink-kasa', load: 'LED lamp' },
  space_heater: { name: 'Space Heater', deviceType: 'smart_plug', manufacturer: 'Shelly', model: 'Shelly Plug US', location: 'Bedroom', pluginId: 'shelly', load: '1500 W space heater' },
  solar: { name: 'Solar Microinverter', deviceType: 'solar_inverter', manufacturer: 'Enphase', model: 'IQ7+', location: 'Roof', pluginId: 'enphase-envoy', load: 'one 350 W panel' },
};

/** The rate schedule synthetic consumers are priced with: the first time-of-use one, else the first. */
function defaultSchedule(reference: ReferenceData): string | null {
  const tou = reference.rateSchedules.find((s) => s.scheduleType === 'tou') ?? reference.rateSchedules[0];
  return tou?.name ?? null;
}

/**
 * The devices that get readings: the reference devices in file order, then synthetic ones with
 * stable ids (sim-<kind>-0001, ...) that depend only on their position, never on the seed.
 */
export function deviceCatalog(reference: ReferenceData, count: number): DeviceSeed[] {
  const devices = reference.devices.slice(0, count);
  const schedule = defaultSchedule(reference);
  const plugins = new Set(reference.plugins.map((p) => p.pluginId));
  for (let i = 1; devices.length < count; i++) {
    const kind = SYNTHETIC_KINDS[(i - 1) % SYNTHETIC_KINDS.length]!;
    const t = TEMPLATES[kind];
    const number = String(i).padStart(4, '0');
    devices.push({
      deviceId: `sim-${kind.replace('_', '-')}-${number}`,
      name: `${t.name} ${number} (simulated)`,
      deviceType: t.deviceType,
      manufacturer: t.manufacturer,
      model: t.model,
      location: t.location,
      pluginId: plugins.has(t.pluginId) ? t.pluginId : null,
      rateSchedule: kind === 'solar' ? null : schedule,
      profile: kind,
      metadata: { load: t.load, synthetic: true },
    });
  }
  return devices;
}
