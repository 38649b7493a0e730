import type { TargetDriver } from '../driver.js';
import { serverSite } from '../server/restoreSite.js';
import { dockerTarget, reachContainer } from './target.js';
import { dockerRestoreMajor, dockerRestoreProgram } from './tools.js';

/**
 * The container `pulumi up` made: a PostgreSQL server reached on its published port, whose client
 * tools run inside it (docker exec). Restores are the server kind's, with pg_restore in the container.
 */
export const dockerDriver: TargetDriver<'docker'> = {
  traits: (spec) => ({
    label: `docker ${spec.container}`,
    runsPolicyJobsItself: true,
    jobEnv: { AETHERLENS_DB_CONTAINER: spec.container },
    secrets: [],
  }),
  open: async (spec) => dockerTarget(await reachContainer(spec)),
  async openRestoreSite(spec) {
    const reached = await reachContainer(spec);
    return serverSite({
      connection: reached.connection,
      backupLockKey: reached.backupLockKey,
      program: (dump) => dockerRestoreProgram(spec.container, reached.connection, dump),
      restoreMajor: () => dockerRestoreMajor(spec.container),
      // The dump streamed out of the container on stdout: no data offsets, so no parallel jobs.
      singleOnly: true,
    });
  },
};
