import type { TargetSpec } from '../config.js';
import { openDockerTarget } from './docker.js';
import { openEmbeddedTarget } from './embedded.js';
import { serverTarget } from './server.js';
import type { Target } from './types.js';

export interface OpenTargetOptions {
  command: string;
  requireOwnership?: boolean;
  /** Directory of the host's pg_dump (Settings.pgBinDir); PG_BIN_DIR when not given. */
  pgBinDir?: string;
}

/** Opens the configured target; the caller closes it. */
export async function openTarget(spec: TargetSpec, options: OpenTargetOptions): Promise<Target> {
  switch (spec.kind) {
    case 'server': {
      const pgBinDir = options.pgBinDir ?? process.env.PG_BIN_DIR;
      return serverTarget(spec.connection, pgBinDir ? { pgBinDir } : {});
    }
    case 'embedded':
      return openEmbeddedTarget({ dataDir: spec.dataDir, command: options.command, ...(options.requireOwnership ? { requireOwnership: true } : {}) });
    case 'docker':
      return openDockerTarget({ container: spec.container, ...(spec.database ? { database: spec.database } : {}), ...(spec.user ? { user: spec.user } : {}) });
  }
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
