import type { TargetSpec } from '../config.js';
import type { ScratchPurpose } from './names.js';
import type { RestoreSite } from './restoreSite.js';
import type { Target, TargetKind, TargetTraits } from './types.js';

export interface OpenTargetOptions {
  /** Who opens it, for lock owner files and messages: "backup", "jobs run". */
  command: string;
  /** Embedded: refuse rather than reach a `local serve` that holds the data directory. */
  requireOwnership?: boolean;
  /** Directory of the host's PostgreSQL client tools (Settings.pgBinDir); PATH when not given. */
  pgBinDir?: string;
}

export interface OpenRestoreSiteOptions {
  purpose: ScratchPurpose;
  command: string;
  /** Directory of the host's PostgreSQL client tools (Settings.pgBinDir); PATH when not given. */
  pgBinDir?: string;
}

/**
 * One kind of target (targets/<kind>/index.ts): everything that differs per kind, behind the three
 * ways in. The factory (open.ts) maps a spec's kind to its driver; nothing else asks for the kind.
 */
export interface TargetDriver<K extends TargetKind> {
  /** What is known before anything is reached: label, job environment, secrets. */
  traits(spec: Extract<TargetSpec, { kind: K }>): TargetTraits;
  /** Opens the target for operations (backup, jobs, migrate, seed); the caller closes it. */
  open(spec: Extract<TargetSpec, { kind: K }>, options: OpenTargetOptions): Promise<Target>;
  /** Opens the place a backup restores to (scratch copy, drop, swap); the caller closes it. */
  openRestoreSite(spec: Extract<TargetSpec, { kind: K }>, options: OpenRestoreSiteOptions): Promise<RestoreSite>;
}
