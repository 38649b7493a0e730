import type { TargetDriver } from '../driver.js';
import { embeddedSite } from './restoreSite.js';
import { openEmbeddedTarget } from './target.js';

/** The in-process engine (PGlite + TimescaleDB) and its data directory. */
export const embeddedDriver: TargetDriver<'embedded'> = {
  traits: (spec) => ({
    label: `embedded ${spec.dataDir}`,
    // No background workers: policies run only when asked (`jobs run`, the policies job).
    runsPolicyJobsItself: false,
    jobEnv: { AETHERLENS_EMBEDDED_DIR: spec.dataDir },
    secrets: [],
    inProcessDataDir: spec.dataDir,
  }),
  open: (spec, options) => openEmbeddedTarget({ dataDir: spec.dataDir, command: options.command, ...(options.requireOwnership ? { requireOwnership: true } : {}) }),
  openRestoreSite: (spec, options) => embeddedSite({ dataDir: spec.dataDir, purpose: options.purpose, command: options.command }),
};
