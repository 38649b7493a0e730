import { resolve } from 'node:path';
import { OpsError } from './errors.js';
import { parseDatabaseUrl, type ConnectionInfo } from './connection.js';
import { DEFAULT_MIGRATIONS_DIR } from './migrations/files.js';

/** Where the database lives (DESIGN section 2). */
export type TargetSpec =
  | { kind: 'server'; connection: ConnectionInfo }
  | { kind: 'docker'; container: string; database?: string; user?: string }
  | { kind: 'embedded'; dataDir: string };

export interface Settings {
  target: TargetSpec;
  backupDir: string;
  migrationsDir: string;
  /** Directory of pg_dump/pg_restore/psql on the host, when not on PATH. */
  pgBinDir?: string;
  lockTimeoutMs: number;
}

/** Flags every command accepts; commander gives them to us already named. */
export interface CommonFlags {
  databaseUrl?: string;
  container?: string;
  embeddedDir?: string;
  dir?: string;
  migrationsDir?: string;
}

/** Every AETHERLENS_* variable we read; any other is a typo worth reporting. */
export const KNOWN_ENV = [
  'AETHERLENS_DB_CONTAINER',
  'AETHERLENS_DB_NAME',
  'AETHERLENS_DB_USER',
  'AETHERLENS_EMBEDDED_DIR',
  'AETHERLENS_BACKUP_DIR',
  'AETHERLENS_MIGRATIONS_DIR',
  'AETHERLENS_LOCK_TIMEOUT',
  'AETHERLENS_ADMIN_PASSWORD',
  'AETHERLENS_APT_STATE',
  'AETHERLENS_SCHEDULE_CONFIG',
  'AETHERLENS_BACKUP_CRON',
  'AETHERLENS_TIMEZONE',
  'AETHERLENS_PING_URL',
  'AETHERLENS_WEBHOOK_URL',
  'AETHERLENS_PROM_FILE',
  'AETHERLENS_STATUS_FILE',
  'AETHERLENS_KEEP_DAILY',
  'AETHERLENS_KEEP_WEEKLY',
  'AETHERLENS_KEEP_MONTHLY',
  'AETHERLENS_MAX_BACKUP_AGE',
  'AETHERLENS_PING_URL_FILE',
  'AETHERLENS_WEBHOOK_URL_FILE',
  'AETHERLENS_JOBS_DIR',
  'AETHERLENS_DRILL_CRON',
  // Set by the scheduler for the job scripts it runs (see ops/jobs/).
  'AETHERLENS_JOB_RUN',
  'AETHERLENS_NODE',
  'AETHERLENS_DB_CLI',
  'AETHERLENS_BACKUP_DRILL',
  'AETHERLENS_BACKUP_ROTATE',
  'AETHERLENS_DRILL_MIN_AGE_HOURS',
] as const;

export const DEFAULT_EMBEDDED_DIR = '.aetherlens/embedded';
export const DEFAULT_BACKUP_DIR = '.aetherlens/backups';

/**
 * Resolves flags, then environment, then defaults into one validated Settings. Every problem is
 * collected and reported in one error that names each setting and its fix.
 */
export function resolveSettings(flags: CommonFlags, env: NodeJS.ProcessEnv = process.env): Settings {
  const problems: string[] = [];
  const unknown = Object.keys(env).filter((k) => k.startsWith('AETHERLENS_') && !(KNOWN_ENV as readonly string[]).includes(k));
  for (const key of unknown) problems.push(`${key} is not a setting aetherlens-db knows (known: ${KNOWN_ENV.slice(0, 6).join(', ')}, …): check the spelling`);

  const databaseUrl = flags.databaseUrl ?? env.DATABASE_URL;
  const container = flags.container ?? env.AETHERLENS_DB_CONTAINER;
  let target: TargetSpec | undefined;
  if (databaseUrl && container) {
    problems.push('both a server (DATABASE_URL / --database-url) and a container (--container / AETHERLENS_DB_CONTAINER) are set: choose one');
  } else if (databaseUrl) {
    try {
      target = { kind: 'server', connection: parseDatabaseUrl(databaseUrl, flags.databaseUrl ? '--database-url' : 'DATABASE_URL') };
    } catch (error) {
      problems.push((error as Error).message);
    }
  } else if (container) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(container)) problems.push(`container name "${container}" is not a valid Docker name: use letters, digits, _ . -`);
    else target = { kind: 'docker', container, ...(env.AETHERLENS_DB_NAME ? { database: env.AETHERLENS_DB_NAME } : {}), ...(env.AETHERLENS_DB_USER ? { user: env.AETHERLENS_DB_USER } : {}) };
  } else {
    target = { kind: 'embedded', dataDir: resolve(flags.embeddedDir ?? env.AETHERLENS_EMBEDDED_DIR ?? DEFAULT_EMBEDDED_DIR) };
  }

  let lockTimeoutMs = 120_000;
  if (env.AETHERLENS_LOCK_TIMEOUT !== undefined) {
    const seconds = Number(env.AETHERLENS_LOCK_TIMEOUT);
    if (!Number.isFinite(seconds) || seconds < 0 || seconds > 3600) problems.push('AETHERLENS_LOCK_TIMEOUT must be a number of seconds from 0 to 3600');
    else lockTimeoutMs = seconds * 1000;
  }
  if (problems.length > 0 || !target) {
    throw new OpsError('CONFIG', problems.length === 1 ? problems[0]! : `configuration has ${problems.length} problems: ${problems.join('; ')}`);
  }
  return {
    target,
    backupDir: resolve(flags.dir ?? env.AETHERLENS_BACKUP_DIR ?? DEFAULT_BACKUP_DIR),
    migrationsDir: resolve(flags.migrationsDir ?? env.AETHERLENS_MIGRATIONS_DIR ?? DEFAULT_MIGRATIONS_DIR),
    ...(env.PG_BIN_DIR ? { pgBinDir: env.PG_BIN_DIR } : {}),
    lockTimeoutMs,
  };
}
