import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SettingsProblems } from '../settings/problems.js';
import type { Environment } from '../settings/variables.js';
import { hostTimeZone, validateCron, validateTimeZone } from './cron.js';

/** One scheduled job script: when it runs and how long it may take. */
export interface JobSchedule {
  name: string;
  cron: string;
  timezone: string;
  timeoutSeconds: number;
  /** healthchecks-style URL for this job (the global ping URL goes to the backup job). */
  pingUrl?: string;
}

/** Everything the scheduler needs to know, validated once at start. */
export interface ScheduleSettings {
  /** The jobs to run, by name; a job set to "off" is not here. */
  jobs: JobSchedule[];
  /** The operator's job scripts, searched after the shipped ones (and replacing them by name). */
  jobsDir?: string;
  /** After SIGTERM to a job (timeout or stop), how long before SIGKILL. */
  killGraceSeconds: number;
  /** Warnings for the log, e.g. a token given in argv. */
  warnings: string[];
  /** When the backup job runs (node-cron syntax, seconds optional); null when it is off. */
  backupCron: string | null;
  /** IANA zone the cron fields are read in. */
  timezone: string;
  /** The backup job restore-drills every new backup right after it. */
  drill: boolean;
  /** The backup job rotates after a successful drill. */
  rotate: boolean;
  /** When the policies job runs (embedded target by default); null when off. */
  jobsCron: string | null;
  /** Run a backup at start-up when the last good one is older than one interval. */
  catchUp: boolean;
  statusFile: string;
  promFile?: string;
  pingUrl?: string;
  webhookUrl?: string;
  /** Older than this, the last verified backup is stale; default 1.5 × the backup interval. */
  maxBackupAgeSeconds?: number;
  /** How long a running step may finish after SIGTERM before it is aborted. */
  graceSeconds: number;
  /** Per attempt, for pings and webhooks. */
  signalTimeoutMs: number;
  signalRetries: number;
}

/** Flags of `aetherlens-db schedule`, already named by commander. */
export interface ScheduleFlags {
  config?: string;
  cron?: string;
  timezone?: string;
  jobsCron?: string;
  drill?: boolean;
  rotate?: boolean;
  catchUp?: boolean;
  statusFile?: string;
  promFile?: string;
  pingUrl?: string;
  pingUrlFile?: string;
  webhookUrl?: string;
  webhookUrlFile?: string;
  jobsDir?: string;
  maxAge?: string;
  grace?: string;
}

export const DEFAULT_BACKUP_CRON = '0 2 * * *';
/** Two hours after the backup, so a drill never races the nightly backup's own drill and rotation. */
export const DEFAULT_DRILL_CRON = '0 4 * * *';
export const DEFAULT_JOBS_CRON = '*/15 * * * *';
/** Default per-job timeouts: a backup or drill of a large database takes hours, policy jobs less. */
const DEFAULT_TIMEOUT_SECONDS: Record<string, number> = { backup: 6 * 3600, drill: 6 * 3600, policies: 3600 };
const FALLBACK_TIMEOUT_SECONDS = 3600;
export const STATUS_FILE_NAME = 'scheduler-status.json';

/** The status file `status --backups` reads when none is configured. */
export function defaultStatusFile(backupDir: string): string {
  return join(backupDir, STATUS_FILE_NAME);
}

/** Keys a schedule config file (JSON) may hold; anything else is a typo worth reporting. */
const FILE_KEYS = ['backupCron', 'timezone', 'drill', 'rotate', 'jobsCron', 'catchUp', 'statusFile', 'promFile', 'pingUrl', 'pingUrlFile', 'webhookUrl', 'webhookUrlFile', 'maxBackupAge', 'grace', 'killGrace', 'signalTimeout', 'signalRetries', 'jobs', 'jobsDir', 'drillCron'] as const;
/** Keys of one entry of "jobs" in the config file. */
const JOB_KEYS = ['cron', 'timezone', 'timeout', 'pingUrl'];
type FileConfig = Partial<Record<(typeof FILE_KEYS)[number], unknown>>;

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "36h", "1h30m", "90s", "2d" or a bare number of seconds; undefined when it is none of those. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  if (!/^(\d+(\.\d+)?[smhd])+$/.test(trimmed)) return undefined;
  let seconds = 0;
  for (const m of trimmed.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)) seconds += Number(m[1]) * UNITS[m[2]!]!;
  return seconds;
}

/** The config file's settings; what is wrong with it goes to `problems`, and then it counts as empty. */
function readConfigFile(path: string, problems: SettingsProblems): FileConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    problems.add(`cannot read the schedule config ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}): check the path in --config / AETHERLENS_SCHEDULE_CONFIG`);
    return {};
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    problems.add(`the schedule config ${path} is not valid JSON (${(error as Error).message})`);
    return {};
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    problems.add(`the schedule config ${path} must be a JSON object such as {"backupCron": "0 2 * * *"}`);
    return {};
  }
  const unknown = Object.keys(data).filter((k) => !(FILE_KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    problems.add(`the schedule config ${path} has unknown key(s) ${unknown.join(', ')}: known keys are ${FILE_KEYS.join(', ')}`);
    return {};
  }
  return data as FileConfig;
}

/** Whether a URL carries something secret: a path (healthchecks' uuid), a query or credentials. */
function hasToken(text: string): boolean {
  try {
    const u = new URL(text);
    return u.pathname.replace(/\/+$/, '') !== '' || u.search !== '' || u.username !== '' || u.password !== '';
  } catch {
    return true;
  }
}

type JobEntry = { cron?: unknown; timezone?: unknown; timeout?: unknown; pingUrl?: unknown } | 'off';

/** The "jobs" object of the config file: name → { cron, timezone, timeout, pingUrl } or "off". */
function jobsFromFile(value: unknown, configPath: string | undefined, problems: SettingsProblems): Record<string, JobEntry> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.add(`"jobs" in ${configPath} must be an object such as {"drill": {"cron": "0 4 * * *", "timeout": "2h"}}`);
    return {};
  }
  const out: Record<string, JobEntry> = {};
  for (const [name, entry] of Object.entries(value)) {
    if (!/^[a-z0-9][a-z0-9_-]*$/i.test(name)) problems.add(`"jobs.${name}" in ${configPath}: a job name uses letters, digits, - and _`);
    else if (entry === 'off') out[name] = 'off';
    else if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) problems.add(`"jobs.${name}" in ${configPath} must be an object with "cron" (and optionally "timezone", "timeout", "pingUrl") or "off"`);
    else {
      const unknown = Object.keys(entry).filter((k) => !JOB_KEYS.includes(k));
      if (unknown.length > 0) problems.add(`"jobs.${name}" in ${configPath} has unknown key(s) ${unknown.join(', ')}: known keys are ${JOB_KEYS.join(', ')}`);
      out[name] = entry as JobEntry;
    }
  }
  return out;
}

/** Where the schedule is resolved: the environment snapshot and what the common settings decided. */
export interface ScheduleContext {
  env: Environment;
  backupDir: string;
  /** The target runs its policy jobs itself (a server's background workers): none to schedule. */
  runsPolicyJobsItself: boolean;
}

/**
 * Resolves the schedule from flags, then environment (AETHERLENS_*), then a JSON config file,
 * then defaults. Every problem goes to `problems`, which the resolver reports as one CONFIG error.
 * URLs are checked but never repeated in messages: ping and webhook URLs carry tokens.
 */
export function collectScheduleSettings(flags: ScheduleFlags, options: ScheduleContext, problems: SettingsProblems): ScheduleSettings {
  const env = options.env;
  const configPath = flags.config ?? env.AETHERLENS_SCHEDULE_CONFIG;
  const file = configPath ? readConfigFile(resolve(configPath), problems) : {};

  /** The first value given, with the name of the setting it came from. */
  const pick = (flag: string | undefined, flagName: string, envName: string | undefined, key: keyof FileConfig): { value: unknown; from: string } | undefined => {
    if (flag !== undefined) return { value: flag, from: flagName };
    if (envName && env[envName] !== undefined && env[envName] !== '') return { value: env[envName], from: envName };
    if (file[key] !== undefined) return { value: file[key], from: `"${key}" in ${configPath}` };
    return undefined;
  };
  const text = (p: { value: unknown; from: string } | undefined): string | undefined => {
    if (p === undefined) return undefined;
    if (typeof p.value !== 'string') {
      problems.add(`${p.from} must be a string`);
      return undefined;
    }
    return p.value;
  };
  const bool = (flag: boolean | undefined, key: keyof FileConfig, fallback: boolean): boolean => {
    if (flag !== undefined) return flag;
    if (file[key] === undefined) return fallback;
    if (typeof file[key] !== 'boolean') problems.add(`"${key}" in ${configPath} must be true or false`);
    return file[key] === true;
  };
  const check = (fn: () => void) => problems.check(fn);
  const duration = (p: { value: unknown; from: string } | undefined, min: number): number | undefined => {
    if (p === undefined) return undefined;
    const seconds = typeof p.value === 'number' ? p.value : typeof p.value === 'string' ? parseDuration(p.value) : undefined;
    if (seconds === undefined || !Number.isFinite(seconds) || seconds < min) {
      problems.add(`${p.from} must be a duration of at least ${min} s, such as 90s, 45m, 36h or 2d`);
      return undefined;
    }
    return seconds;
  };
  const url = (p: { value: unknown; from: string } | undefined): string | undefined => {
    const value = text(p);
    if (value === undefined) return undefined;
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(value).protocol);
    } catch {
      ok = false;
    }
    if (!ok) problems.add(`${p!.from} must be an http:// or https:// URL`);
    return ok ? value.replace(/\/+$/, '') : undefined;
  };

  const tzPick = pick(flags.timezone, '--timezone', 'AETHERLENS_TIMEZONE', 'timezone');
  const timezone = text(tzPick) ?? hostTimeZone();
  check(() => validateTimeZone(timezone, tzPick?.from ?? 'the host time zone'));

  const jobEntries = jobsFromFile(file.jobs, configPath, problems);
  /** A job's cron: the first setting given, "off" for none, else the default (null: not scheduled by default). */
  const cronFor = (name: string, first: { value: unknown; from: string } | undefined, fallback: string | null): { cron: string | null; from: string } => {
    const entry = jobEntries[name];
    const p = first ?? (entry === 'off' ? { value: 'off', from: `"jobs.${name}" in ${configPath}` } : entry?.cron !== undefined ? { value: entry.cron, from: `"jobs.${name}.cron" in ${configPath}` } : undefined);
    const value = text(p);
    if (value === undefined) return { cron: fallback, from: `the default schedule of ${name}` };
    return { cron: value === 'off' ? null : value, from: p!.from };
  };
  const backup = cronFor('backup', pick(flags.cron, '--cron', 'AETHERLENS_BACKUP_CRON', 'backupCron'), DEFAULT_BACKUP_CRON);
  const drillJob = cronFor('drill', pick(undefined, '', 'AETHERLENS_DRILL_CRON', 'drillCron'), DEFAULT_DRILL_CRON);
  const jobsPick = pick(flags.jobsCron, '--jobs-cron', undefined, 'jobsCron');
  if (jobsPick && options.runsPolicyJobsItself && jobsPick.value !== 'off') {
    problems.add(`${jobsPick.from}: policy jobs are scheduled only on the embedded target (a server runs them with TimescaleDB's background workers); remove it or set it to "off"`);
  }
  const policies = cronFor('policies', options.runsPolicyJobsItself ? undefined : jobsPick, options.runsPolicyJobsItself ? null : DEFAULT_JOBS_CRON);
  const crons: Array<[string, { cron: string | null; from: string }]> = [['backup', backup], ['drill', drillJob], ['policies', policies]];
  for (const name of Object.keys(jobEntries)) {
    if (crons.some(([n]) => n === name)) continue;
    const entry = jobEntries[name];
    if (entry !== 'off' && entry?.cron === undefined) problems.add(`"jobs.${name}" in ${configPath} needs a "cron" expression (or "off")`);
    crons.push([name, cronFor(name, undefined, null)]);
  }
  const jobs: JobSchedule[] = [];
  for (const [name, { cron, from }] of crons) {
    if (cron === null) continue;
    check(() => validateCron(cron, from));
    const entry = jobEntries[name] === 'off' ? undefined : jobEntries[name];
    const zone = entry?.timezone === undefined ? timezone : text({ value: entry.timezone, from: `"jobs.${name}.timezone" in ${configPath}` });
    if (zone !== undefined && zone !== timezone) check(() => validateTimeZone(zone, `"jobs.${name}.timezone" in ${configPath}`));
    const timeout = entry?.timeout === undefined ? undefined : duration({ value: entry.timeout, from: `"jobs.${name}.timeout" in ${configPath}` }, 1);
    const jobPing = entry?.pingUrl === undefined ? undefined : url({ value: entry.pingUrl, from: `"jobs.${name}.pingUrl" in ${configPath}` });
    jobs.push({ name, cron, timezone: zone ?? timezone, timeoutSeconds: timeout ?? DEFAULT_TIMEOUT_SECONDS[name] ?? FALLBACK_TIMEOUT_SECONDS, ...(jobPing ? { pingUrl: jobPing } : {}) });
  }

  const maxAge = duration(pick(flags.maxAge, '--max-age', 'AETHERLENS_MAX_BACKUP_AGE', 'maxBackupAge'), 1);
  const grace = duration(pick(flags.grace, '--grace', undefined, 'grace'), 0) ?? 60;
  const killGrace = duration(pick(undefined, '', undefined, 'killGrace'), 0) ?? 30;
  const signalTimeout = duration(pick(undefined, '', undefined, 'signalTimeout'), 0.1) ?? 5;
  const retriesPick = pick(undefined, '', undefined, 'signalRetries');
  let signalRetries = 2;
  if (retriesPick) {
    if (typeof retriesPick.value !== 'number' || !Number.isInteger(retriesPick.value) || retriesPick.value < 0 || retriesPick.value > 10) problems.add(`${retriesPick.from} must be a whole number from 0 to 10`);
    else signalRetries = retriesPick.value;
  }
  const statusFile = text(pick(flags.statusFile, '--status-file', 'AETHERLENS_STATUS_FILE', 'statusFile'));
  const promFile = text(pick(flags.promFile, '--prom-file', 'AETHERLENS_PROM_FILE', 'promFile'));
  if (promFile !== undefined && !promFile.endsWith('.prom')) problems.add(`the Prometheus file ${promFile} must end in .prom (node_exporter's textfile collector reads only those)`);
  const warnings: string[] = [];
  /** A URL from its flag, its file (flag, environment or config) or its variable; a token in argv is warned about. */
  const secretUrl = (flag: string | undefined, flagName: string, fileFlag: string | undefined, envName: string, key: 'pingUrl' | 'webhookUrl') => {
    const filePick = pick(fileFlag, `${flagName}-file`, `${envName}_FILE`, `${key}File` as keyof FileConfig);
    const path = text(filePick);
    if (flag !== undefined && hasToken(flag)) warnings.push(`${flagName} puts the URL's token in the command line, where ps shows it to every local user: set ${envName} or use ${flagName}-file FILE instead`);
    if (path !== undefined && flag === undefined) {
      let content: string | undefined;
      try {
        content = readFileSync(resolve(path), 'utf8').trim();
      } catch (error) {
        problems.add(`cannot read ${filePick!.from} ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}): check the path and that this user may read it`);
      }
      return content === undefined ? undefined : url({ value: content, from: `the content of ${path} (${filePick!.from})` });
    }
    return url(pick(flag, flagName, envName, key));
  };
  const pingUrl = secretUrl(flags.pingUrl, '--ping-url', flags.pingUrlFile, 'AETHERLENS_PING_URL', 'pingUrl');
  const webhookUrl = secretUrl(flags.webhookUrl, '--webhook-url', flags.webhookUrlFile, 'AETHERLENS_WEBHOOK_URL', 'webhookUrl');
  const jobsDir = text(pick(flags.jobsDir, '--jobs-dir', 'AETHERLENS_JOBS_DIR', 'jobsDir'));
  const drill = bool(flags.drill, 'drill', true);
  const rotate = bool(flags.rotate, 'rotate', true);
  const catchUp = bool(flags.catchUp, 'catchUp', true);

  return {
    jobs,
    ...(jobsDir !== undefined ? { jobsDir: resolve(jobsDir) } : {}),
    killGraceSeconds: killGrace,
    warnings,
    backupCron: backup.cron,
    timezone,
    drill,
    rotate,
    jobsCron: jobs.find((j) => j.name === 'policies')?.cron ?? null,
    catchUp,
    statusFile: resolve(statusFile ?? defaultStatusFile(options.backupDir)),
    ...(promFile !== undefined ? { promFile: resolve(promFile) } : {}),
    ...(pingUrl !== undefined ? { pingUrl } : {}),
    ...(webhookUrl !== undefined ? { webhookUrl } : {}),
    ...(maxAge !== undefined ? { maxBackupAgeSeconds: maxAge } : {}),
    graceSeconds: grace,
    signalTimeoutMs: Math.round(signalTimeout * 1000),
    signalRetries,
  };
}

/** collectScheduleSettings on its own (OpsError CONFIG, exit 2, naming every problem). */
export function resolveScheduleSettings(flags: ScheduleFlags, options: ScheduleContext): ScheduleSettings {
  const problems = new SettingsProblems();
  const schedule = collectScheduleSettings(flags, options, problems);
  problems.throwIfAny();
  return schedule;
}
