import { describeConnection } from '../connection.js';
import type { Settings, TargetSpec } from '../config.js';
import { OpsError } from '../errors.js';
import { runDueJobs } from '../embedded/jobs.js';
import { withTarget } from '../targets/open.js';
import type { Steps } from './steps.js';

/** A description of the target that is safe for logs and the status file (no password). */
export function targetLabel(spec: TargetSpec): string {
  switch (spec.kind) {
    case 'server':
      return describeConnection(spec.connection);
    case 'docker':
      return `docker ${spec.container}`;
    case 'embedded':
      return `embedded ${spec.dataDir}`;
  }
}

/** Passwords to blank out of anything the scheduler logs, writes or sends. */
export function targetSecrets(spec: TargetSpec): string[] {
  return [spec.kind === 'server' ? spec.connection.password : undefined, process.env.PGPASSWORD, process.env.AETHERLENS_ADMIN_PASSWORD].filter((s): s is string => Boolean(s));
}

/**
 * The real chain: the library's backup, restore drill, rotation and policy jobs. The target is
 * opened for each step and closed after it, so between runs other commands can use the database
 * (on the embedded target the engine is not held open all night).
 */
export function realSteps(settings: Settings): Steps {
  const spec = settings.target;
  const notYet = (what: string) => async (): Promise<never> => {
    throw new OpsError('BACKUP', `${what} is not available in this build`);
  };
  return {
    backup: notYet('backup'),
    drill: notYet('the restore drill'),
    rotate: notYet('rotation'),
    lastVerified: async () => undefined,
    ...(spec.kind === 'embedded'
      ? {
          runJobs: async ({ logger }) => {
            const runs = await withTarget(spec, 'schedule (policy jobs)', (target) => runDueJobs(target.connection, { stateDir: spec.dataDir, logger }));
            const failed = runs.filter((r) => !r.ok);
            return { ran: runs.length, failed: failed.length, errors: failed.map((r) => `job ${r.id} (${r.proc}): ${r.error ?? 'failed'}`) };
          },
        }
      : {}),
  };
}
