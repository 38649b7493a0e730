import type { Settings } from '../config.js';
import type { Environment } from './variables.js';
import { targetTraits } from '../targets/open.js';

/** Jobs send no pings or webhooks, so they never see the tokens. */
const HIDDEN_FROM_JOBS = ['AETHERLENS_PING_URL', 'AETHERLENS_PING_URL_FILE', 'AETHERLENS_WEBHOOK_URL', 'AETHERLENS_WEBHOOK_URL_FILE'] as const;

/**
 * The whole environment a job script starts with, built from the Settings the scheduler (or
 * `job run`) resolved: the environment they were resolved from, with every setting that a flag may
 * have changed written back as its variable, so each `aetherlens-db` call in the job reaches the
 * same target and backup directory however those were given.
 */
export function jobEnvironmentFrom(settings: Settings): Environment {
  const spec = settings.target;
  const env: Record<string, string | undefined> = {
    ...settings.environment,
    AETHERLENS_BACKUP_DIR: settings.backupDir,
    AETHERLENS_MIGRATIONS_DIR: settings.migrationsDir,
    ...targetTraits(spec).jobEnv,
    ...(settings.pgBinDir ? { PG_BIN_DIR: settings.pgBinDir } : {}),
  };
  for (const name of HIDDEN_FROM_JOBS) delete env[name];
  return env;
}
