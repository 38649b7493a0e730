/**
 * What the scheduler needs to know of its target without opening it: the label its status file,
 * logs and notifications name, the secrets it blanks out, and the environment its jobs' own
 * `aetherlens-db` calls need. Each kind's part comes from targets/ (targetTraits).
 */
import type { Settings, TargetSpec } from '../config.js';
import { targetTraits } from '../targets/open.js';

/** A description of the target that is safe for logs and the status file (no password). */
export function targetLabel(spec: TargetSpec): string {
  return targetTraits(spec).label;
}

/** Passwords to blank out of anything the scheduler logs, writes or sends. */
export function targetSecrets(spec: TargetSpec): string[] {
  // PGPASSWORD and the admin password reach every kind; they move into Settings with issue 14's resolver.
  return [...targetTraits(spec).secrets, process.env.PGPASSWORD, process.env.AETHERLENS_ADMIN_PASSWORD].filter((s): s is string => Boolean(s));
}

/**
 * The environment a job's `aetherlens-db` calls need to reach the same target and backup
 * directory as the scheduler, however those were given to it. Ping and webhook URLs are left
 * out: jobs do not send signals, so they never see the tokens.
 */
export function jobTargetEnv(settings: Settings): Record<string, string | undefined> {
  return {
    AETHERLENS_BACKUP_DIR: settings.backupDir,
    AETHERLENS_MIGRATIONS_DIR: settings.migrationsDir,
    ...targetTraits(settings.target).jobEnv,
    ...(settings.pgBinDir ? { PG_BIN_DIR: settings.pgBinDir } : {}),
    AETHERLENS_PING_URL: undefined,
    AETHERLENS_PING_URL_FILE: undefined,
    AETHERLENS_WEBHOOK_URL: undefined,
    AETHERLENS_WEBHOOK_URL_FILE: undefined,
  };
}
