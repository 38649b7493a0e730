/** Solar geometry and a plain weather model for the generator: good to a few minutes and percent. */
import type { Site } from './data.js';
import { civilDay } from './clock.js';

const RAD = Math.PI / 180;

interface SolarDay {
  /** Declination, radians. */
  declination: number;
  /** Equation of time, minutes. */
  equationOfTime: number;
}

/** Cooper's declination and Spencer-style equation of time for a day of the year. */
function solarDay(dayOfYear: number): SolarDay {
  const b = (2 * Math.PI * (dayOfYear - 81)) / 364;
  return {
    declination: 23.44 * RAD * Math.sin((2 * Math.PI * (284 + dayOfYear)) / 365),
    equationOfTime: 9.87 * Math.sin(2 * b) - 7.53 * Math.cos(b) - 1.5 * Math.sin(b),
  };
}

function utcDayOfYear(epochMs: number): number {
  return civilDay(Math.floor(epochMs / 86400000)).dayOfYear;
}

export interface SunPosition {
  /** Elevation above the horizon, radians (negative at night). */
  elevation: number;
  /** Plane-of-array irradiance on a south-facing panel tilted `tilt` degrees, clear sky, W/m². */
  clearSkyPoa: number;
}

/** Where the sun is at an instant, and what a clear sky delivers to a tilted panel. */
export function sunPosition(site: Site, epochMs: number, tiltDegrees = 20): SunPosition {
  const { declination: dec, equationOfTime } = solarDay(utcDayOfYear(epochMs));
  const utcMinutes = (epochMs / 60000) % 1440;
  const solarMinutes = utcMinutes + 4 * site.longitude + equationOfTime;
  const hourAngle = (solarMinutes / 4 - 180) * RAD;
  const lat = site.latitude * RAD;
  const sinElevation = Math.sin(lat) * Math.sin(dec) + Math.cos(lat) * Math.cos(dec) * Math.cos(hourAngle);
  const elevation = Math.asin(Math.max(-1, Math.min(1, sinElevation)));
  if (elevation <= 0) return { elevation, clearSkyPoa: 0 };
  const elevationDeg = elevation / RAD;
  // Kasten-Young air mass, Meinel's clear-sky direct normal irradiance.
  const airMass = 1 / (sinElevation + 0.50572 * (elevationDeg + 6.07995) ** -1.6364);
  const dni = 1353 * 0.7 ** (airMass ** 0.678);
  // Equator-facing tilt: the panel sees the sun as if at latitude (lat - tilt) on a flat roof.
  const tilt = tiltDegrees * RAD;
  const facing = site.latitude >= 0 ? lat - tilt : lat + tilt;
  const cosIncidence = Math.sin(facing) * Math.sin(dec) + Math.cos(facing) * Math.cos(dec) * Math.cos(hourAngle);
  const diffuse = 0.1 * dni * ((1 + Math.cos(tilt)) / 2);
  return { elevation, clearSkyPoa: dni * Math.max(0, cosIncidence) + diffuse };
}

/** Local clock minute of sunset on a local day, given the zone's UTC offset that day. */
export function sunsetMinute(site: Site, dayOfYear: number, utcOffsetMinutes: number): number {
  const { declination, equationOfTime } = solarDay(dayOfYear);
  const x = -Math.tan(site.latitude * RAD) * Math.tan(declination);
  const halfDayDeg = Math.acos(Math.max(-1, Math.min(1, x))) / RAD;
  return 720 + 4 * halfDayDeg - 4 * site.longitude - equationOfTime + utcOffsetMinutes;
}

/** Outdoor temperature, °C: a mild coastal climate, warmest in late summer and mid-afternoon. */
export function ambientTemperature(site: Site, dayOfYear: number, localMinute: number): number {
  const hemisphere = site.latitude >= 0 ? 1 : -1;
  const seasonal = 14 + hemisphere * 5 * Math.cos((2 * Math.PI * (dayOfYear - 230)) / 365);
  const diurnal = 4.5 * Math.cos((2 * Math.PI * (localMinute - 900)) / 1440);
  return seasonal + diurnal;
}
