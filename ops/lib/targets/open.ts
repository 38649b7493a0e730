import { OpsError } from '../errors.js';
import type { TargetSpec } from '../config.js';
import { openEmbeddedTarget } from './embedded.js';
import { serverTarget } from './server.js';
import type { Target } from './types.js';

/** Opens the configured target; the caller closes it. */
export async function openTarget(spec: TargetSpec, options: { command: string; requireOwnership?: boolean }): Promise<Target> {
  switch (spec.kind) {
    case 'server':
      return serverTarget(spec.connection);
    case 'embedded':
      return openEmbeddedTarget({ dataDir: spec.dataDir, command: options.command, ...(options.requireOwnership ? { requireOwnership: true } : {}) });
    case 'docker':
      throw new OpsError('CONFIG', `the docker target (container ${spec.container}) is not available in this build yet: use DATABASE_URL with the container's published port`);
  }
}

/** Opens the target, runs `fn`, and always closes it. */
export async function withTarget<T>(spec: TargetSpec, command: string, fn: (target: Target) => Promise<T>): Promise<T> {
  const target = await openTarget(spec, { command });
  try {
    return await fn(target);
  } finally {
    await target.close();
  }
}
