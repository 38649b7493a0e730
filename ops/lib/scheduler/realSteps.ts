import { describeConnection } from '../connection.js';
import type { Settings, TargetSpec } from '../config.js';

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
 * The environment a job's `aetherlens-db` calls need to reach the same target and backup
 * directory as the scheduler, however those were given to it. Ping and webhook URLs are left
 * out: jobs do not send signals, so they never see the tokens.
 */
export function jobTargetEnv(settings: Settings): Record<string, string | undefined> {
  const spec = settings.target;
  return {
    AETHERLENS_BACKUP_DIR: settings.backupDir,
    AETHERLENS_MIGRATIONS_DIR: settings.migrationsDir,
    ...(spec.kind === 'embedded' ? { AETHERLENS_EMBEDDED_DIR: spec.dataDir } : {}),
    ...(spec.kind === 'docker' ? { AETHERLENS_DB_CONTAINER: spec.container } : {}),
    ...(settings.pgBinDir ? { PG_BIN_DIR: settings.pgBinDir } : {}),
    AETHERLENS_PING_URL: undefined,
    AETHERLENS_PING_URL_FILE: undefined,
    AETHERLENS_WEBHOOK_URL: undefined,
    AETHERLENS_WEBHOOK_URL_FILE: undefined,
  };
}
