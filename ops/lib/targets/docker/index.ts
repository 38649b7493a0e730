import type { TargetDriver } from '../driver.js';
import { dockerSite, dockerTarget, reachContainer } from './target.js';

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
  openRestoreSite: async (spec) => dockerSite(await reachContainer(spec)),
};
