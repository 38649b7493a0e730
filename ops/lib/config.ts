import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { parseDatabaseUrl, type ConnectionInfo } from './connection.js';
import { DEFAULT_MIGRATIONS_DIR } from './migrations/files.js';
import { DEFAULT_LOCK_TIMEOUT_MS } from './lockTimeout.js';
import { collectRetention, type RetentionFlags, type RetentionPolicy } from './backup/rotation.js';
import { collectScheduleSettings, parseDuration, type ScheduleFlags, type ScheduleSettings } from './scheduler/settings.js';
import { SettingsProblems } from './settings/problems.js';
import { KNOWN_ENV, SECRET_VARIABLES, type Environment } from './settings/variables.js';
import { targetTraits } from './targets/open.js';

/** Where the database lives (DESIGN section 2). */
export type TargetSpec =
  | { kind: 'server'; connection: ConnectionInfo }
  /** password: PGPASSWORD, when set, instead of the container's own secret. */
  | { kind: 'docker'; container: string; database?: string; user?: string; password?: string }
  | { kind: 'embedded'; dataDir: string };

export interface Settings {
  target: TargetSpec;
  backupDir: string;
  migrationsDir: string;
  /** Directory of pg_dump/pg_restore/psql on the host, when not on PATH. */
  pgBinDir?: string;
  lockTimeoutMs: number;
  /** Grandfather-father-son counts: checked at every start, used by rotate and the backup job. */
  retention: RetentionPolicy;
  /** The password `seed` and `quickstart` give a new admin user (AETHERLENS_ADMIN_PASSWORD). */
  adminPassword?: string;
  /** The operator's job scripts (--jobs-dir / AETHERLENS_JOBS_DIR). */
  jobsDir?: string;
  /** The scheduler's status file, when one is named (--status-file / AETHERLENS_STATUS_FILE). */
  statusFile?: string;
  /** Older than this, the last verified backup is stale (--max-age / AETHERLENS_MAX_BACKUP_AGE). */
  maxBackupAgeSeconds?: number;
  /** Who applies migrations, for the ledger's applied_by: USER@host. */
  appliedBy: string;
  /** Passwords that must never reach a log, a status file or a webhook. */
  secrets: string[];
  /** The schedule, when the command asked for it (`schedule`). */
  schedule?: ScheduleSettings;
  /** The environment this was resolved from; child processes get theirs from here (childEnvironment.ts). */
  environment: Environment;
}

/** Flags every command accepts; commander gives them to us already named. */
export interface CommonFlags extends RetentionFlags {
  databaseUrl?: string;
  container?: string;
  embeddedDir?: string;
  dir?: string;
  migrationsDir?: string;
  jobsDir?: string;
  statusFile?: string;
  maxAge?: string;
  /** Given by `schedule` only: resolve its settings too, into the same one error. */
  schedule?: ScheduleFlags;
}

export { KNOWN_ENV };

export const DEFAULT_EMBEDDED_DIR = '.aetherlens/embedded';
export const DEFAULT_BACKUP_DIR = '.aetherlens/backups';

function resolveTarget(flags: CommonFlags, env: Environment, problems: SettingsProblems): TargetSpec | undefined {
  const databaseUrl = flags.databaseUrl ?? env.DATABASE_URL;
  const container = flags.container ?? env.AETHERLENS_DB_CONTAINER;
  if (databaseUrl && container) {
    problems.add('both a server (DATABASE_URL / --database-url) and a container (--container / AETHERLENS_DB_CONTAINER) are set: choose one');
    return undefined;
  }
  if (databaseUrl) {
    const connection = problems.check(() => parseDatabaseUrl(databaseUrl, flags.databaseUrl ? '--database-url' : 'DATABASE_URL', env));
    return connection && { kind: 'server', connection };
  }
  if (container) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(container)) {
      problems.add(`container name "${container}" is not a valid Docker name: use letters, digits, _ . -`);
      return undefined;
    }
    return { kind: 'docker', container, ...(env.AETHERLENS_DB_NAME ? { database: env.AETHERLENS_DB_NAME } : {}), ...(env.AETHERLENS_DB_USER ? { user: env.AETHERLENS_DB_USER } : {}), ...(env.PGPASSWORD ? { password: env.PGPASSWORD } : {}) };
  }
  return { kind: 'embedded', dataDir: resolve(flags.embeddedDir ?? env.AETHERLENS_EMBEDDED_DIR ?? DEFAULT_EMBEDDED_DIR) };
}

function resolveLockTimeout(env: Environment, problems: SettingsProblems): number {
  if (env.AETHERLENS_LOCK_TIMEOUT === undefined) return DEFAULT_LOCK_TIMEOUT_MS;
  const seconds = Number(env.AETHERLENS_LOCK_TIMEOUT);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 3600) {
    problems.add('AETHERLENS_LOCK_TIMEOUT must be a number of seconds from 0 to 3600');
    return DEFAULT_LOCK_TIMEOUT_MS;
  }
  return seconds * 1000;
}

function resolveMaxBackupAge(flags: CommonFlags, env: Environment, problems: SettingsProblems): number | undefined {
  // Empty counts as unset, as in the schedule's own settings.
  const text = flags.maxAge ?? (env.AETHERLENS_MAX_BACKUP_AGE || undefined);
  if (text === undefined) return undefined;
  const seconds = parseDuration(text);
  if (seconds === undefined || seconds <= 0) {
    problems.add(`${flags.maxAge !== undefined ? '--max-age' : 'AETHERLENS_MAX_BACKUP_AGE'} must be a duration such as 90s, 45m, 36h or 2d`);
    return undefined;
  }
  return seconds;
}

/** Passwords the target and the environment carry (URL tokens are remembered by secrets.ts). */
function settingsSecrets(target: TargetSpec | undefined, env: Environment): string[] {
  const values = SECRET_VARIABLES.filter((v) => v.secret === 'value').map((v) => env[v.name]);
  return [...(target ? targetTraits(target).secrets : []), ...values].filter((s): s is string => Boolean(s));
}

/**
 * Resolves flags, then environment, then defaults into one validated Settings: the one place that
 * reads the process environment (test/settings/processEnv.test.ts keeps it so). Every problem, the
 * schedule's and the retention's included, is collected and reported in one CONFIG error with a
 * line per problem that names the setting and its fix.
 */
export function resolveSettings(flags: CommonFlags, env: Environment = process.env): Settings {
  const problems = new SettingsProblems();
  const unknown = Object.keys(env).filter((k) => k.startsWith('AETHERLENS_') && !(KNOWN_ENV as readonly string[]).includes(k));
  for (const key of unknown) problems.add(`${key} is not a setting aetherlens-db knows (known: ${KNOWN_ENV.slice(0, 6).join(', ')}, …): check the spelling`);

  const target = resolveTarget(flags, env, problems);
  const lockTimeoutMs = resolveLockTimeout(env, problems);
  const retention = collectRetention(flags, env, problems);
  const maxBackupAgeSeconds = resolveMaxBackupAge(flags, env, problems);
  const backupDir = resolve(flags.dir ?? env.AETHERLENS_BACKUP_DIR ?? DEFAULT_BACKUP_DIR);
  const schedule = flags.schedule && target
    ? collectScheduleSettings(flags.schedule, { env, backupDir, runsPolicyJobsItself: targetTraits(target).runsPolicyJobsItself }, problems)
    : undefined;
  problems.throwIfAny();

  const jobsDir = flags.jobsDir ?? env.AETHERLENS_JOBS_DIR;
  const statusFile = flags.statusFile ?? env.AETHERLENS_STATUS_FILE;
  return {
    target: target!,
    backupDir,
    migrationsDir: resolve(flags.migrationsDir ?? env.AETHERLENS_MIGRATIONS_DIR ?? DEFAULT_MIGRATIONS_DIR),
    ...(env.PG_BIN_DIR ? { pgBinDir: env.PG_BIN_DIR } : {}),
    lockTimeoutMs,
    retention,
    ...(env.AETHERLENS_ADMIN_PASSWORD ? { adminPassword: env.AETHERLENS_ADMIN_PASSWORD } : {}),
    ...(jobsDir ? { jobsDir } : {}),
    ...(statusFile ? { statusFile } : {}),
    ...(maxBackupAgeSeconds !== undefined ? { maxBackupAgeSeconds } : {}),
    appliedBy: `${env.USER ?? 'aetherlens-db'}@${hostname()}`,
    secrets: settingsSecrets(target, env),
    ...(schedule ? { schedule } : {}),
    environment: { ...env },
  };
}
