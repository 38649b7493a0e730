/**
 * Every environment variable aetherlens-db reads, in one list: the resolver (config.ts) reads only
 * these, refuses an AETHERLENS_* variable that is not here, and the README's table of variables is
 * checked against it (test/settings/variables.test.ts). A variable missing from this list is a
 * setting nobody validates, as AETHERLENS_SAMPLE_DATA once was.
 */
export interface EnvironmentVariable {
  readonly name: string;
  /** One line for the README's table and for the unknown-variable error. */
  readonly purpose: string;
  /** `value`: the whole value is a secret; `url`: a URL whose password or token is. */
  readonly secret?: 'value' | 'url';
  /** Set by the scheduler for the job scripts it starts, not by operators. */
  readonly forJobs?: true;
}

/** The project's own variables. */
export const AETHERLENS_VARIABLES = [
  { name: 'AETHERLENS_DB_CONTAINER', purpose: 'the docker target: the container that runs the database (`--container`)' },
  { name: 'AETHERLENS_DB_NAME', purpose: 'docker target: the database in the container (default: the image\'s `POSTGRES_DB`)' },
  { name: 'AETHERLENS_DB_USER', purpose: 'docker target: the user in the container (default: the image\'s `POSTGRES_USER`)' },
  { name: 'AETHERLENS_EMBEDDED_DIR', purpose: 'the embedded target\'s data directory (`--embedded-dir`; default `.aetherlens/embedded`)' },
  { name: 'AETHERLENS_BACKUP_DIR', purpose: 'the backup directory (`--dir`; default `.aetherlens/backups`)' },
  { name: 'AETHERLENS_MIGRATIONS_DIR', purpose: 'the folder holding `versions/` and `init/` (`--migrations-dir`; default: the bundled migrations)' },
  { name: 'AETHERLENS_LOCK_TIMEOUT', purpose: 'seconds to wait for another run\'s lock, 0 to 3600 (default 120)' },
  { name: 'AETHERLENS_ADMIN_PASSWORD', purpose: 'the password `seed` and `quickstart` give a new `admin` user (default: generated and shown once)', secret: 'value' },
  { name: 'AETHERLENS_APT_STATE', purpose: 'accepted for older install scripts; read by nothing' },
  { name: 'AETHERLENS_KEEP_DAILY', purpose: 'rotation: verified daily backups kept (`--keep-daily`; default 7)' },
  { name: 'AETHERLENS_KEEP_WEEKLY', purpose: 'rotation: verified weekly backups kept (`--keep-weekly`; default 4)' },
  { name: 'AETHERLENS_KEEP_MONTHLY', purpose: 'rotation: verified monthly backups kept (`--keep-monthly`; default 12)' },
  { name: 'AETHERLENS_SCHEDULE_CONFIG', purpose: 'schedule: the JSON config file (`--config`)' },
  { name: 'AETHERLENS_BACKUP_CRON', purpose: 'schedule: when the backup job runs (`--cron`; default `0 2 * * *`; `off`)' },
  { name: 'AETHERLENS_DRILL_CRON', purpose: 'schedule: when the drill job runs (default `0 4 * * *`; `off`)' },
  { name: 'AETHERLENS_TIMEZONE', purpose: 'schedule: the IANA zone of the cron fields (`--timezone`; default: the host\'s)' },
  { name: 'AETHERLENS_JOBS_DIR', purpose: 'schedule, `job`: your job scripts, searched after the shipped ones (`--jobs-dir`)' },
  { name: 'AETHERLENS_STATUS_FILE', purpose: 'schedule, `status --backups`: the status file (`--status-file`; default `<backup dir>/scheduler-status.json`)' },
  { name: 'AETHERLENS_PROM_FILE', purpose: 'schedule: a `.prom` file for node_exporter (`--prom-file`)' },
  { name: 'AETHERLENS_PING_URL', purpose: 'schedule: the healthchecks-style URL pinged around the backup job', secret: 'url' },
  { name: 'AETHERLENS_PING_URL_FILE', purpose: 'schedule: a file holding that URL (`--ping-url-file`)' },
  { name: 'AETHERLENS_WEBHOOK_URL', purpose: 'schedule: the URL that gets a JSON POST when a job fails', secret: 'url' },
  { name: 'AETHERLENS_WEBHOOK_URL_FILE', purpose: 'schedule: a file holding that URL (`--webhook-url-file`)' },
  { name: 'AETHERLENS_MAX_BACKUP_AGE', purpose: 'schedule, `status --backups`: the last verified backup is stale beyond this (`--max-age`)' },
  { name: 'AETHERLENS_JOB_RUN', purpose: 'the id of the run a job script belongs to', forJobs: true },
  { name: 'AETHERLENS_NODE', purpose: 'the node program that runs the CLI for a job script', forJobs: true },
  { name: 'AETHERLENS_DB_CLI', purpose: 'the CLI entry a job script runs', forJobs: true },
  { name: 'AETHERLENS_BACKUP_DRILL', purpose: 'the backup job: `off` when the schedule says `--no-drill`', forJobs: true },
  { name: 'AETHERLENS_BACKUP_ROTATE', purpose: 'the backup job: `off` when the schedule says `--no-rotate`', forJobs: true },
  { name: 'AETHERLENS_DRILL_MIN_AGE_HOURS', purpose: 'the drill job: skip backups drilled within this many hours (default 20)' },
] as const satisfies readonly EnvironmentVariable[];

/** Variables of PostgreSQL's clients and of the system that aetherlens-db reads as they do. */
export const STANDARD_VARIABLES = [
  { name: 'DATABASE_URL', purpose: 'the server target: postgres://user:password@host:port/db (`--database-url`)', secret: 'url' },
  { name: 'PG_BIN_DIR', purpose: 'the folder of the host\'s pg_dump, pg_restore and psql, when not on PATH' },
  { name: 'PGUSER', purpose: 'the user when DATABASE_URL names none (as libpq)' },
  { name: 'PGPASSWORD', purpose: 'the password when DATABASE_URL has none (as libpq)', secret: 'value' },
  { name: 'PGSSLMODE', purpose: 'sslmode when DATABASE_URL has none (as libpq)' },
  { name: 'PGSSLROOTCERT', purpose: 'sslrootcert when DATABASE_URL has none (as libpq)' },
  { name: 'PGSSLCERT', purpose: 'sslcert when DATABASE_URL has none (as libpq)' },
  { name: 'PGSSLKEY', purpose: 'sslkey when DATABASE_URL has none (as libpq)' },
  { name: 'USER', purpose: 'who applied a migration, in the ledger\'s `applied_by`' },
] as const satisfies readonly EnvironmentVariable[];

export type AetherlensVariable = (typeof AETHERLENS_VARIABLES)[number]['name'];
export type KnownVariable = AetherlensVariable | (typeof STANDARD_VARIABLES)[number]['name'];

/** Every AETHERLENS_* variable we read; any other is a typo worth reporting. */
export const KNOWN_ENV: readonly AetherlensVariable[] = AETHERLENS_VARIABLES.map((v) => v.name);

/** Every variable whose value is (or carries) a secret, so each is remembered for redact(). */
export const SECRET_VARIABLES: readonly EnvironmentVariable[] = [...AETHERLENS_VARIABLES, ...STANDARD_VARIABLES].filter((v: EnvironmentVariable) => v.secret !== undefined);

/** A snapshot of the process environment, read once by the resolver and passed on from there. */
export type Environment = Readonly<Record<string, string | undefined>>;
