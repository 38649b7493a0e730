import type { TargetDriver } from '../driver.js';
import { hostServerSite } from './restoreSite.js';
import { serverLabel } from './identity.js';
import { serverTarget } from './target.js';

/** Any PostgreSQL >= 15 with TimescaleDB, reached with DATABASE_URL; its client tools run on this host. */
export const serverDriver: TargetDriver<'server'> = {
  traits: (spec) => ({
    label: serverLabel(spec.connection),
    runsPolicyJobsItself: true,
    // A job inherits DATABASE_URL from the scheduler's own environment.
    jobEnv: {},
    secrets: spec.connection.password ? [spec.connection.password] : [],
  }),
  open: async (spec, options) => serverTarget(spec.connection, options.pgBinDir ? { pgBinDir: options.pgBinDir } : {}),
  openRestoreSite: async (spec, options) => hostServerSite(spec.connection, options.pgBinDir),
};
