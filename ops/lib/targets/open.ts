/**
 * The one factory: a configured target's kind is mapped to its driver (targets/<kind>/) here and
 * nowhere else. Operations get an open Target or RestoreSite and ask it for capabilities.
 */
import type { TargetSpec } from '../config.js';
import { dockerDriver } from './docker/index.js';
import type { OpenRestoreSiteOptions, OpenTargetOptions, TargetDriver } from './driver.js';
import { embeddedDriver } from './embedded/index.js';
import type { RestoreSite } from './restoreSite.js';
import { serverDriver } from './server/index.js';
import type { RestoreSites, Target, TargetKind, TargetTraits } from './types.js';

export type { OpenRestoreSiteOptions, OpenTargetOptions } from './driver.js';

const DRIVERS: { [K in TargetKind]: TargetDriver<K> } = {
  server: serverDriver,
  docker: dockerDriver,
  embedded: embeddedDriver,
};

function driverFor<K extends TargetKind>(spec: Extract<TargetSpec, { kind: K }>): TargetDriver<K> {
  return DRIVERS[spec.kind as K];
}

/** What is known of the configured target before it is opened: label, job environment, secrets. */
export function targetTraits(spec: TargetSpec): TargetTraits {
  return driverFor(spec).traits(spec);
}

/** Opens the configured target; the caller closes it. */
export function openTarget(spec: TargetSpec, options: OpenTargetOptions): Promise<Target> {
  return driverFor(spec).open(spec, options);
}

/**
 * Opens the place the configured target restores to (see restoreSite.ts). For a restore on the
 * embedded target this takes the data directory's lock, refusing while `local serve` has it open.
 * The caller closes it.
 */
export function openRestoreSite(spec: TargetSpec, options: OpenRestoreSiteOptions): Promise<RestoreSite> {
  return driverFor(spec).openRestoreSite(spec, options);
}

/**
 * Where the configured target's drills and restores get their RestoreSite, with nothing opened
 * before one is asked for: what `verify` and `restore` use, since a restore replaces the embedded
 * data directory that an open Target would hold. An open Target serves the same purpose.
 */
export function restoreSitesOf(spec: TargetSpec, options: { pgBinDir?: string } = {}): RestoreSites {
  return {
    kind: spec.kind,
    openRestoreSite: (request) => openRestoreSite(spec, { ...request, ...options }),
  };
}

/** Opens the target, runs `fn`, and always closes it. */
export async function withTarget<T>(
  spec: TargetSpec,
  command: string,
  fn: (target: Target) => Promise<T>,
  options: Omit<OpenTargetOptions, 'command'> = {},
): Promise<T> {
  const target = await openTarget(spec, { ...options, command });
  try {
    return await fn(target);
  } finally {
    await target.close();
  }
}
