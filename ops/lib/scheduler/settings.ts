import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OpsError } from '../errors.js';
import type { TargetKind } from '../targets/types.js';
import { hostTimeZone, validateCron, validateTimeZone } from './cron.js';

/** Everything the scheduler needs to know, validated once at start. */
export interface ScheduleSettings {
  /** When backups run (node-cron syntax, seconds optional). */
  backupCron: string;
  /** IANA zone the cron fields are read in. */
  timezone: string;
  /** Restore-drill every new backup right after it. */
  drill: boolean;
  /** Rotate after a successful drill. */
  rotate: boolean;
  /** Embedded target only: when due TimescaleDB policy jobs run; null when off. */
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
  webhookUrl?: string;
  maxAge?: string;
  grace?: string;
}

export const DEFAULT_BACKUP_CRON = '0 2 * * *';
export const DEFAULT_JOBS_CRON = '*/15 * * * *';
export const STATUS_FILE_NAME = 'scheduler-status.json';

/** The status file `status --backups` reads when none is configured. */
export function defaultStatusFile(backupDir: string): string {
  return join(backupDir, STATUS_FILE_NAME);
}

/** Keys a schedule config file (JSON) may hold; anything else is a typo worth reporting. */
const FILE_KEYS = ['backupCron', 'timezone', 'drill', 'rotate', 'jobsCron', 'catchUp', 'statusFile', 'promFile', 'pingUrl', 'webhookUrl', 'maxBackupAge', 'grace', 'signalTimeout', 'signalRetries'] as const;
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

function readConfigFile(path: string): FileConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new OpsError('CONFIG', `cannot read the schedule config ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}): check the path in --config / AETHERLENS_SCHEDULE_CONFIG`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new OpsError('CONFIG', `the schedule config ${path} is not valid JSON (${(error as Error).message})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new OpsError('CONFIG', `the schedule config ${path} must be a JSON object such as {"backupCron": "0 2 * * *"}`);
  const unknown = Object.keys(data).filter((k) => !(FILE_KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) throw new OpsError('CONFIG', `the schedule config ${path} has unknown key(s) ${unknown.join(', ')}: known keys are ${FILE_KEYS.join(', ')}`);
  return data as FileConfig;
}

/**
 * Resolves the schedule from flags, then environment (AETHERLENS_*), then a JSON config file,
 * then defaults. Every problem is collected into one CONFIG error that names each setting.
 * URLs are checked but never repeated in messages: ping and webhook URLs carry tokens.
 */
export function resolveScheduleSettings(flags: ScheduleFlags, options: { env?: NodeJS.ProcessEnv; backupDir: string; targetKind: TargetKind }): ScheduleSettings {
  const env = options.env ?? process.env;
  const configPath = flags.config ?? env.AETHERLENS_SCHEDULE_CONFIG;
  const file = configPath ? readConfigFile(resolve(configPath)) : {};
  const problems: string[] = [];

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
      problems.push(`${p.from} must be a string`);
      return undefined;
    }
    return p.value;
  };
  const bool = (flag: boolean | undefined, key: keyof FileConfig, fallback: boolean): boolean => {
    if (flag !== undefined) return flag;
    if (file[key] === undefined) return fallback;
    if (typeof file[key] !== 'boolean') problems.push(`"${key}" in ${configPath} must be true or false`);
    return file[key] === true;
  };
  const check = (fn: () => void) => {
    try {
      fn();
    } catch (error) {
      problems.push((error as Error).message);
    }
  };
  const duration = (p: { value: unknown; from: string } | undefined, min: number): number | undefined => {
    if (p === undefined) return undefined;
    const seconds = typeof p.value === 'number' ? p.value : typeof p.value === 'string' ? parseDuration(p.value) : undefined;
    if (seconds === undefined || !Number.isFinite(seconds) || seconds < min) {
      problems.push(`${p.from} must be a duration of at least ${min} s, such as 90s, 45m, 36h or 2d`);
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
    if (!ok) problems.push(`${p!.from} must be an http:// or https:// URL`);
    return ok ? value.replace(/\/+$/, '') : undefined;
  };

  const backupCronPick = pick(flags.cron, '--cron', 'AETHERLENS_BACKUP_CRON', 'backupCron');
  const backupCron = text(backupCronPick) ?? DEFAULT_BACKUP_CRON;
  check(() => validateCron(backupCron, backupCronPick?.from ?? 'the backup schedule'));
  const tzPick = pick(flags.timezone, '--timezone', 'AETHERLENS_TIMEZONE', 'timezone');
  const timezone = text(tzPick) ?? hostTimeZone();
  check(() => validateTimeZone(timezone, tzPick?.from ?? 'the host time zone'));

  const jobsPick = pick(flags.jobsCron, '--jobs-cron', undefined, 'jobsCron');
  const jobsText = text(jobsPick);
  let jobsCron: string | null = options.targetKind === 'embedded' ? DEFAULT_JOBS_CRON : null;
  if (jobsText !== undefined && jobsText !== 'off') {
    if (options.targetKind !== 'embedded') problems.push(`${jobsPick!.from}: policy jobs are scheduled only on the embedded target (a server runs them with TimescaleDB's background workers); remove it or set it to "off"`);
    else {
      jobsCron = jobsText;
      check(() => validateCron(jobsText, jobsPick!.from));
    }
  } else if (jobsText === 'off') jobsCron = null;

  const maxAge = duration(pick(flags.maxAge, '--max-age', 'AETHERLENS_MAX_BACKUP_AGE', 'maxBackupAge'), 1);
  const grace = duration(pick(flags.grace, '--grace', undefined, 'grace'), 0) ?? 60;
  const signalTimeout = duration(pick(undefined, '', undefined, 'signalTimeout'), 0.1) ?? 5;
  const retriesPick = pick(undefined, '', undefined, 'signalRetries');
  let signalRetries = 2;
  if (retriesPick) {
    if (typeof retriesPick.value !== 'number' || !Number.isInteger(retriesPick.value) || retriesPick.value < 0 || retriesPick.value > 10) problems.push(`${retriesPick.from} must be a whole number from 0 to 10`);
    else signalRetries = retriesPick.value;
  }
  const statusFile = text(pick(flags.statusFile, '--status-file', 'AETHERLENS_STATUS_FILE', 'statusFile'));
  const promFile = text(pick(flags.promFile, '--prom-file', 'AETHERLENS_PROM_FILE', 'promFile'));
  if (promFile !== undefined && !promFile.endsWith('.prom')) problems.push(`the Prometheus file ${promFile} must end in .prom (node_exporter's textfile collector reads only those)`);
  const pingUrl = url(pick(flags.pingUrl, '--ping-url', 'AETHERLENS_PING_URL', 'pingUrl'));
  const webhookUrl = url(pick(flags.webhookUrl, '--webhook-url', 'AETHERLENS_WEBHOOK_URL', 'webhookUrl'));
  const drill = bool(flags.drill, 'drill', true);
  const rotate = bool(flags.rotate, 'rotate', true);
  const catchUp = bool(flags.catchUp, 'catchUp', true);

  if (problems.length > 0) throw new OpsError('CONFIG', problems.length === 1 ? problems[0]! : `the schedule has ${problems.length} problems: ${problems.join('; ')}`);
  return {
    backupCron,
    timezone,
    drill,
    rotate,
    jobsCron,
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
