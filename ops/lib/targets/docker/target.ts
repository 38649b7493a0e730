import { OpsError } from '../../errors.js';
import type { ConnectionInfo } from '../../connection.js';
import { runDueJobs } from '../../embedded/jobs.js';
import { run, firstLine } from '../../run.js';
import { rememberSecret } from '../../secrets.js';
import { dumpOutcome, openSnapshotSession } from '../server/pgDump.js';
import { SERVER_CAPABILITIES } from '../server/identity.js';
import type { BackupLockKey, Target } from '../types.js';
import { DOCKER, execInContainer, startInContainer } from './exec.js';
import { serverSite } from '../server/restoreSite.js';
import type { RestoreSite } from '../restoreSite.js';
import { containerToolEnv, dockerRestoreMajor, dockerRestoreProgram, dockerToolVersions, pgDumpInContainer } from './tools.js';
/** The port PostgreSQL listens on inside the container (infra/timescaledb.ts POSTGRES_PORT). */
export const CONTAINER_PG_PORT = 5432;

export interface DockerSpec {
  container: string;
  /** AETHERLENS_DB_NAME / AETHERLENS_DB_USER; else the container's POSTGRES_DB / POSTGRES_USER. */
  database?: string;
  user?: string;
  /** PGPASSWORD, when set; else the container's own secret. */
  password?: string;
  /**
   * Where the docker CLI talks to the engine (DOCKER_HOST's form: unix://…, tcp://host:port,
   * ssh://user@host). When not given, the docker CLI is asked (`docker context inspect`), which
   * answers for DOCKER_HOST, DOCKER_CONTEXT and `docker context use` alike.
   */
  dockerHost?: string;
}

export function dockerInspectArgs(container: string): string[] {
  return ['container', 'inspect', container];
}

/** What the backup needs to know about the container, from `docker container inspect`. */
export interface ContainerFacts {
  running: boolean;
  status: string;
  env: Record<string, string>;
  /** Where the host reaches the container's PostgreSQL port, if it is published. */
  published?: { host: string; port: number };
}

/**
 * The host of a remote engine (tcp://host:2375, ssh://user@host), whose published ports are on that
 * host; undefined for a local one (unix socket, named pipe, or none given).
 */
export function remoteEngineHost(dockerHost: string | undefined): string | undefined {
  if (!dockerHost) return undefined;
  let url: URL;
  try {
    url = new URL(dockerHost);
  } catch {
    return undefined;
  }
  if (!['tcp:', 'ssh:', 'http:', 'https:'].includes(url.protocol)) return undefined;
  return url.hostname.replace(/^\[(.*)\]$/, '$1') || undefined;
}

const WILDCARD = new Set(['', '0.0.0.0', '::']);

/**
 * Parses `docker container inspect` output (a JSON array with one object). A port published on
 * every interface is reached on the engine's host: loopback for a local engine, the host named in
 * `dockerHost` for a remote one. A specific bind address is used as it is.
 */
export function parseContainerInspect(json: string, container: string, dockerHost?: string): ContainerFacts {
  let info: {
    State?: { Running?: boolean; Status?: string };
    Config?: { Env?: string[] | null };
    NetworkSettings?: { Ports?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null };
  };
  try {
    info = (JSON.parse(json) as unknown[])[0] as typeof info;
  } catch {
    throw new OpsError('TOOL', `docker container inspect ${container} printed something that is not JSON: check the docker CLI`);
  }
  const env = Object.fromEntries((info?.Config?.Env ?? []).map((entry) => {
    const at = entry.indexOf('=');
    return at < 0 ? [entry, ''] : [entry.slice(0, at), entry.slice(at + 1)];
  }));
  const binding = info?.NetworkSettings?.Ports?.[`${CONTAINER_PG_PORT}/tcp`]?.find((b) => b.HostPort);
  const bound = binding?.HostIp ?? '';
  const host = !WILDCARD.has(bound) ? bound : remoteEngineHost(dockerHost) ?? (bound === '::' ? '::1' : '127.0.0.1');
  return {
    running: info?.State?.Running === true,
    status: info?.State?.Status ?? 'unknown',
    env,
    ...(binding?.HostPort ? { published: { host, port: Number(binding.HostPort) } } : {}),
  };
}

/** Where the docker CLI sends its requests, as it says itself; undefined if it cannot say. */
export async function currentDockerHost(): Promise<string | undefined> {
  const result = await run(DOCKER, ['context', 'inspect', '--format', '{{.Endpoints.docker.Host}}'], { timeoutMs: 30_000 }).catch(() => undefined);
  const host = result?.exitCode === 0 ? result.stdout.trim() : '';
  return host || undefined;
}

async function inspectContainer(container: string, engine: Promise<string | undefined>): Promise<ContainerFacts> {
  const [result, dockerHost] = await Promise.all([run(DOCKER, dockerInspectArgs(container), { timeoutMs: 30_000 }), engine]);
  if (result.exitCode === 0) return parseContainerInspect(result.stdout, container, dockerHost);
  const why = firstLine(result.stderr);
  if (/no such (container|object)/i.test(why)) {
    throw new OpsError('CONNECT', `container "${container}" does not exist: start the stack (pulumi up) or fix --container / AETHERLENS_DB_CONTAINER`);
  }
  if (/cannot connect to the docker daemon|error during connect/i.test(why)) {
    throw new OpsError('TOOL', `cannot reach the Docker engine (${why}): start Docker or set DOCKER_HOST`);
  }
  throw new OpsError('TOOL', `docker container inspect ${container} failed: ${why}`);
}

/** The password: PGPASSWORD when set (the spec's), else the secret file the container was initialised from. */
async function containerPassword(container: string, facts: ContainerFacts, given: string | undefined): Promise<string | undefined> {
  if (given) return given;
  const file = facts.env.POSTGRES_PASSWORD_FILE;
  if (!file) {
    rememberSecret(facts.env.POSTGRES_PASSWORD);
    return facts.env.POSTGRES_PASSWORD || undefined;
  }
  const result = await execInContainer(container, ['cat', file], { what: `cat ${file}`, timeoutMs: 30_000 });
  const password = result.exitCode === 0 ? result.stdout.replace(/\r?\n$/, '') : undefined;
  rememberSecret(password);
  return password;
}

/** The container as a database: how `pg` reaches it, and its label (also its backup-lock key). */
export interface ReachedContainer {
  container: string;
  connection: ConnectionInfo;
  label: string;
  backupLockKey: BackupLockKey;
}

/**
 * Finds the container `pulumi up` made and how to reach its PostgreSQL: the published port, the
 * user and database it was initialised with, and its password. Refuses a stopped container or one
 * that does not publish the port.
 */
export async function reachContainer(spec: DockerSpec): Promise<ReachedContainer> {
  const facts = await inspectContainer(spec.container, spec.dockerHost !== undefined ? Promise.resolve(spec.dockerHost) : currentDockerHost());
  if (!facts.running) {
    throw new OpsError('CONNECT', `container "${spec.container}" is not running (${facts.status}): start it with docker start ${spec.container}`);
  }
  if (!facts.published) {
    throw new OpsError('CONNECT', `container "${spec.container}" does not publish port ${CONTAINER_PG_PORT} to the host: publish it (the stack's hostPort) or use DATABASE_URL`);
  }
  const user = spec.user ?? (facts.env.POSTGRES_USER || 'postgres');
  const password = await containerPassword(spec.container, facts, spec.password);
  const connection: ConnectionInfo = {
    host: facts.published.host,
    port: facts.published.port,
    user,
    ...(password !== undefined ? { password } : {}),
    database: spec.database ?? (facts.env.POSTGRES_DB || user),
  };
  const label = `container ${spec.container} (database ${connection.database})`;
  return { container: spec.container, connection, label, backupLockKey: { kind: 'docker', label } };
}

/** The container's restore site: the server kind's scratch databases, with pg_restore in the container. */
export function dockerSite(reached: ReachedContainer): RestoreSite {
  return serverSite({
    connection: reached.connection,
    backupLockKey: reached.backupLockKey,
    program: (dump) => dockerRestoreProgram(reached.container, reached.connection, dump),
    restoreMajor: () => dockerRestoreMajor(reached.container),
    // The dump streamed out of the container on stdout: no data offsets, so no parallel jobs.
    singleOnly: true,
  });
}

/**
 * The container `pulumi up` made. SQL reaches it through its published port; pg_dump runs inside
 * it with `docker exec`, so the tools always match the server. Every other step of a backup is
 * the server target's (openSnapshotSession).
 */
export function dockerTarget(reached: ReachedContainer): Target {
  const { container, connection } = reached;
  return {
    kind: 'docker',
    label: reached.label,
    backupLockKey: reached.backupLockKey,
    backupName: (database) => database,
    // The server in the container runs its policies itself; on demand, its job_stats says what is due.
    runPolicyJobs: (options) => runDueJobs(connection, options),
    connection,
    // A PostgreSQL server like any other; only where its tools run differs.
    capabilities: SERVER_CAPABILITIES,
    openRestoreSite: async () => dockerSite(reached),
    toolVersions: () => dockerToolVersions(container),
    openDumpSession: () =>
      openSnapshotSession(connection, (snapshot, dump) => {
        // The dump streams out of the container on stdout into the file. Aborted or failed, the
        // run's pg_dump is stopped inside the container too: docker exec forwards no signal.
        const { child, settle } = startInContainer(container, pgDumpInContainer(snapshot, dump.compressionLevel), {
          what: 'pg_dump',
          env: containerToolEnv(connection),
          stdoutFile: dump.file,
          ...(dump.signal ? { signal: dump.signal } : {}),
          ...(dump.onSpawn ? { onSpawn: dump.onSpawn } : {}),
        });
        return dumpOutcome(child, { command: DOCKER, what: `pg_dump in container ${container}`, settle });
      }),
    close: async () => {},
  };
}
