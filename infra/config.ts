/**
 * The stack's settings: read once from Pulumi config, validated, typed. Every problem is collected
 * and reported together as one RunError (a clean failure at `pulumi preview`, no stack trace), each
 * line naming the key and the fix. Pulumi.yaml documents the same keys, types and defaults; a test
 * keeps the two in step.
 */
import { isIP } from 'node:net';
import { isAbsolute } from 'node:path';
import * as pulumi from '@pulumi/pulumi';

/** Below this PostgreSQL, TimescaleDB's workers and 25 connections do not fit (shared_buffers 64MB). */
export const MIN_MEMORY_MB = 256;

/** Defaults, keyed as in Pulumi.yaml (raw form: what `pulumi config get` would print). */
export const CONFIG_DEFAULTS = {
  image: 'timescale/timescaledb:2.22.1-pg15',
  containerName: 'aetherlens-timescaledb',
  volumeName: 'aetherlens-timescaledb-data',
  hostPort: 5432,
  bindAddress: '127.0.0.1',
  allowPublicBind: false,
  connectHost: '',
  memoryMb: 512,
  cpus: '1',
  dbName: 'aetherlens',
  dbUser: 'aetherlens',
  dbPassword: '',
  backupDir: '',
  postgresSettings: [] as string[],
  sampleData: true,
  protectData: true,
} as const;

export type ConfigKey = keyof typeof CONFIG_DEFAULTS;
const KNOWN_KEYS = new Set<string>(Object.keys(CONFIG_DEFAULTS));

/** Settings PostgreSQL must not take from postgresSettings: the stack or the image owns them. */
const RESERVED_SETTINGS = new Set(['port', 'listen_addresses', 'data_directory', 'config_file', 'hba_file', 'ident_file', 'unix_socket_directories']);

export interface StackSettings {
  /** Image reference, `timescale/timescaledb:TAG`, optionally `@sha256:DIGEST`. */
  image: string;
  /** The image's PostgreSQL major, from its tag (`…-pg17`): part of the data volume's identity. */
  pgMajor: number;
  containerName: string;
  volumeName: string;
  hostPort: number;
  /** Host address the port is published on. */
  bindAddress: string;
  /** Address clients (and the post-deploy step) use to reach the database. */
  connectHost: string;
  memoryMb: number;
  /** Docker CPU quota, e.g. 1 or 1.5. */
  cpus: number;
  dbName: string;
  dbUser: string;
  /** A Pulumi secret, or undefined: the stack then generates one that lives in state. */
  dbPassword: pulumi.Output<string> | undefined;
  /** Absolute host directory mounted at /backups, or undefined for none. */
  backupDir: string | undefined;
  /** Extra PostgreSQL settings, applied after (and over) the tuned ones. */
  postgresSettings: Readonly<Record<string, string>>;
  sampleData: boolean;
  /** Protect the data volume from deletion (Pulumi `protect` and `retainOnDelete`). */
  protectData: boolean;
}

/** One problem in the configuration: the key, what is wrong, and how to fix it. */
interface Problem {
  key: string;
  message: string;
}

const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
/** Lowercase, unquoted PostgreSQL identifiers: safe in URLs, pg_isready argv and SQL alike. */
const PG_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const PG_SETTING_NAME = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;
/** [registry/]timescale/timescaledb[:tag][@sha256:digest], with a tag or a digest or both. */
const TIMESCALE_IMAGE = /^(?:[a-z0-9.-]+(?::\d+)?\/)?timescale\/timescaledb(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@sha256:([0-9a-f]{64}))?$/;
/** The `pgNN` part of a timescale/timescaledb tag (2.29.2-pg17, latest-pg17, 2.22.1-pg15-oss). */
const TAG_PG_MAJOR = /(?:^|-)pg(\d{2})(?:-|$)/;
const CPUS = /^\d+(\.\d{1,2})?$/;
const INTEGER = /^-?\d+$/;

/** The stack's project config (keys without the `project:` prefix), as Pulumi hands it to the program. */
export function projectConfig(project = pulumi.getProject()): Record<string, string> {
  const prefix = `${project}:`;
  const raw: Record<string, string> = {};
  for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
    if (key.startsWith(prefix)) raw[key.slice(prefix.length)] = value;
  }
  return raw;
}

/**
 * Validates raw config values (strings, as Pulumi stores them; arrays as JSON) into settings.
 * Throws one pulumi.RunError listing every problem.
 */
export function parseSettings(raw: Readonly<Record<string, string>>, project = pulumi.getProject()): StackSettings {
  const problems: Problem[] = [];
  const problem = (key: string, message: string) => problems.push({ key, message });
  const value = (key: ConfigKey): string | undefined => {
    const v = raw[key];
    return v === undefined || v === '' ? undefined : v;
  };

  for (const key of Object.keys(raw)) {
    if (!KNOWN_KEYS.has(key)) {
      problem(key, `is not a setting of this stack (known: ${[...KNOWN_KEYS].sort().join(', ')}): remove it with \`pulumi config rm ${key}\``);
    }
  }

  const integer = (key: ConfigKey, fallback: number, min: number, max: number, hint: string): number => {
    const v = value(key);
    if (v === undefined) return fallback;
    const n = INTEGER.test(v.trim()) ? Number(v.trim()) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      problem(key, `must be a whole number from ${min} to ${max} (got ${JSON.stringify(v)}): ${hint}`);
      return fallback;
    }
    return n;
  };
  const boolean = (key: ConfigKey, fallback: boolean): boolean => {
    const v = value(key)?.trim().toLowerCase();
    if (v === undefined) return fallback;
    if (v === 'true') return true;
    if (v === 'false') return false;
    problem(key, `must be true or false (got ${JSON.stringify(value(key))})`);
    return fallback;
  };
  const dockerName = (key: 'containerName' | 'volumeName'): string => {
    const v = value(key) ?? CONFIG_DEFAULTS[key];
    if (!DOCKER_NAME.test(v)) problem(key, `must be a Docker name (letters, digits, "_", "." and "-", starting with a letter or digit; got ${JSON.stringify(v)})`);
    return v;
  };
  const identifier = (key: 'dbName' | 'dbUser'): string => {
    const v = value(key) ?? CONFIG_DEFAULTS[key];
    if (!PG_IDENTIFIER.test(v)) problem(key, `must be a lowercase PostgreSQL name (a-z, 0-9, "_", not starting with a digit, at most 63 characters; got ${JSON.stringify(v)})`);
    return v;
  };

  // Image: only the timescale/timescaledb image has the layout this stack relies on (PGDATA,
  // docker-entrypoint-initdb.d, the postgres user); timescaledb-ha differs in all three.
  const image = value('image') ?? CONFIG_DEFAULTS.image;
  const imageMatch = TIMESCALE_IMAGE.exec(image);
  if (!imageMatch || (imageMatch[1] === undefined && imageMatch[2] === undefined)) {
    problem(
      'image',
      `must be a TimescaleDB image, timescale/timescaledb:TAG (optionally @sha256:DIGEST) (got ${JSON.stringify(image)}): ` +
        `use the default ${CONFIG_DEFAULTS.image}`,
    );
  }

  // The major decides which volume holds the data (dataVolumes.ts), so it must be certain.
  const pgMajorText = imageMatch?.[1] === undefined ? undefined : TAG_PG_MAJOR.exec(imageMatch[1])?.[1];
  if (imageMatch && (imageMatch[1] ?? imageMatch[2]) !== undefined && pgMajorText === undefined) {
    problem('image', `must name its PostgreSQL major in the tag, like timescale/timescaledb:2.29.2-pg17 (got ${JSON.stringify(image)}): the stack keeps one data volume per PostgreSQL major`);
  }

  const hostPort = integer('hostPort', CONFIG_DEFAULTS.hostPort, 1, 65535, 'pick a free TCP port, e.g. 5432');
  const memoryMb = integer('memoryMb', CONFIG_DEFAULTS.memoryMb, MIN_MEMORY_MB, 1024 * 1024, `PostgreSQL with TimescaleDB needs at least ${MIN_MEMORY_MB} MB`);

  const cpusRaw = value('cpus') ?? CONFIG_DEFAULTS.cpus;
  let cpus = Number(cpusRaw.trim());
  if (!CPUS.test(cpusRaw.trim()) || cpus <= 0 || cpus > 1024) {
    problem('cpus', `must be a CPU count like 1, 2 or 1.5 (got ${JSON.stringify(cpusRaw)})`);
    cpus = Number(CONFIG_DEFAULTS.cpus);
  }

  // Binding: loopback by default; every interface only when asked for explicitly.
  const bindAddress = (value('bindAddress') ?? CONFIG_DEFAULTS.bindAddress).trim();
  const allowPublicBind = boolean('allowPublicBind', CONFIG_DEFAULTS.allowPublicBind);
  const bindFamily = isIP(bindAddress);
  const wildcard = bindAddress === '0.0.0.0' || bindAddress === '::';
  if (bindFamily === 0) {
    problem('bindAddress', `must be an IP address of this host, e.g. 127.0.0.1 (got ${JSON.stringify(bindAddress)})`);
  } else if (wildcard && !allowPublicBind) {
    problem(
      'bindAddress',
      `${bindAddress} publishes PostgreSQL on every interface of the host: use 127.0.0.1, ` +
        `or run \`pulumi config set allowPublicBind true\` if that is what you want`,
    );
  }

  const connectHostRaw = value('connectHost')?.trim();
  if (connectHostRaw !== undefined && !/^[A-Za-z0-9.:_-]+$/.test(connectHostRaw)) {
    problem('connectHost', `must be a host name or IP address (got ${JSON.stringify(connectHostRaw)})`);
  }
  // A wildcard bind is reached through loopback from the Docker host itself.
  const connectHost = connectHostRaw ?? (wildcard || bindFamily === 0 ? (bindAddress === '::' ? '::1' : '127.0.0.1') : bindAddress);

  const backupDir = value('backupDir')?.trim();
  if (backupDir !== undefined && !isAbsolute(backupDir)) {
    problem('backupDir', `must be an absolute path on the Docker host, e.g. /srv/aetherlens/backups (got ${JSON.stringify(backupDir)})`);
  }

  const password = raw.dbPassword ?? '';
  if (password !== '' && password.length < 12) {
    problem('dbPassword', 'is shorter than 12 characters: set a longer one with `pulumi config set --secret dbPassword`, or remove it to have one generated');
  }

  const postgresSettings: Record<string, string> = {};
  const settingsRaw = value('postgresSettings');
  if (settingsRaw !== undefined) {
    let list: unknown;
    try {
      list = JSON.parse(settingsRaw);
    } catch {
      list = undefined;
    }
    if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) {
      problem('postgresSettings', 'must be a list of "name=value" strings, e.g. `pulumi config set --path \'postgresSettings[0]\' log_min_duration_statement=500ms`');
    } else {
      for (const item of list as string[]) {
        const eq = item.indexOf('=');
        const name = eq > 0 ? item.slice(0, eq).trim() : '';
        const setting = eq > 0 ? item.slice(eq + 1).trim() : '';
        if (!PG_SETTING_NAME.test(name) || setting === '' || /[\n\r\0]/.test(setting)) {
          problem('postgresSettings', `entry ${JSON.stringify(item)} is not "name=value" with a lowercase PostgreSQL setting name`);
        } else if (RESERVED_SETTINGS.has(name)) {
          problem('postgresSettings', `entry ${JSON.stringify(item)} sets ${name}, which the stack manages: remove it`);
        } else if (name === 'shared_preload_libraries' && !setting.split(',').some((lib) => lib.trim().replace(/'/g, '') === 'timescaledb')) {
          problem('postgresSettings', `entry ${JSON.stringify(item)} drops timescaledb from shared_preload_libraries: keep it in the list`);
        } else if (name in postgresSettings) {
          problem('postgresSettings', `sets ${name} twice: keep one entry`);
        } else {
          postgresSettings[name] = setting;
        }
      }
    }
  }

  const settings: StackSettings = {
    image,
    pgMajor: pgMajorText === undefined ? 0 : Number(pgMajorText),
    containerName: dockerName('containerName'),
    volumeName: dockerName('volumeName'),
    hostPort,
    bindAddress,
    connectHost,
    memoryMb,
    cpus,
    dbName: identifier('dbName'),
    dbUser: identifier('dbUser'),
    // Wrapped at once: the plain value never leaves this function.
    dbPassword: password === '' ? undefined : pulumi.secret(password),
    backupDir,
    postgresSettings,
    sampleData: boolean('sampleData', CONFIG_DEFAULTS.sampleData),
    protectData: boolean('protectData', CONFIG_DEFAULTS.protectData),
  };

  if (problems.length > 0) {
    const lines = problems.map((p) => `  - ${project}:${p.key} ${p.message}`);
    throw new pulumi.RunError(`Invalid stack configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
  }
  return settings;
}

/**
 * Refuses a move to an older PostgreSQL major than the stack's data is on (PostgreSQL cannot read a
 * newer major's data or dumps), unless that older major still has its volume: setting the previous
 * image again is the rollback, and brings that volume back as it was. One line, one RunError.
 */
export function checkMajorMove(settings: StackSettings, existingMajors: readonly number[], project = pulumi.getProject()): void {
  const newest = Math.max(...existingMajors);
  if (existingMajors.length === 0 || settings.pgMajor >= newest || existingMajors.includes(settings.pgMajor)) return;
  throw new pulumi.RunError(
    `Invalid stack configuration (1 problem):\n  - ${project}:image ${settings.image} runs PostgreSQL ${settings.pgMajor}, but this stack's data is on PostgreSQL ${newest} ` +
      `and no PostgreSQL ${settings.pgMajor} volume of it exists: PostgreSQL cannot move data to an older major; use an image with PostgreSQL ${newest} or newer`,
  );
}

/** The stack's validated settings, from the current stack's config. */
export function readSettings(): StackSettings {
  return parseSettings(projectConfig());
}
