import type { ConnectionInfo } from '../connection.js';
import type { EmbeddedEngine } from '../embedded/engine.js';

export type TargetKind = 'server' | 'docker' | 'embedded';

/**
 * Where the database lives. Commands use only this interface and never branch on `kind`;
 * the differences (tools on the host, in a container, or in-process) live in the implementations.
 */
export interface Target {
  readonly kind: TargetKind;
  /** A description safe for logs: never a password. */
  readonly label: string;
  /** How `pg` reaches the database. */
  readonly connection: ConnectionInfo;
  /** The in-process engine when this process owns the embedded database. */
  readonly engine?: EmbeddedEngine;
  close(): Promise<void>;
}
