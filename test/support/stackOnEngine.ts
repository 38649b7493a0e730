/**
 * `pulumi up` without the Pulumi CLI (which cannot be installed here): the program runs under
 * Pulumi's mocks, and what it declares is created on the real Docker engine the way the providers
 * would, read from their sources (@pulumi/docker 5.2.0 bridges kreuzwerker/terraform-provider-docker
 * v4; @pulumi/command 1.2.1):
 *   - RemoteImage: pulled only when missing; here the declared upstream name maps to the local test
 *     image (no registry), which keeps its own tag;
 *   - Container: create (Cmd, Env, Binds, PortBindings, Memory in bytes, NanoCPUs, Healthcheck in
 *     ns, RestartPolicy, LogConfig, StopTimeout, NetworkMode bridge), disconnect "bridge", connect
 *     each networksAdvanced entry with its aliases, then each upload as a one-file tar (root:root,
 *     0644 unless executable) with PUT /archive at "/", then start, then with `wait` inspect every
 *     second until "healthy" or waitTimeout;
 *   - replace (deleteBeforeReplace): stop with destroyGraceSeconds, remove with force (named
 *     volumes stay), wait until not running;
 *   - local.Command: `/bin/sh -c <create>` in `dir`, the process environment plus `environment`,
 *     stdout with one trailing newline removed; it runs again only when `triggers` change.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { installMocks, plain, settle, valueOf, type Registered } from '../infra/support/mocks.js';
import { refreshWaitingOutOthers } from '../../ops/lib/aggregateRefresh.js';
import { parseDatabaseUrl, type ConnectionInfo } from '../../ops/lib/connection.js';
import { withClient } from '../../ops/lib/pg.js';
import { docker, tarOf } from './docker.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const recorder = installMocks();
const { checkMajorMove, parseSettings } = await import('../../infra/config.js');
const { dataVolumeMajors, engineVolumeNames } = await import('../../infra/dataVolumes.js');
const { declareStack } = await import('../../infra/stack.js');
const { DEFAULT_MIGRATIONS_DIR, loadInitScripts, migrationSetChecksum } = await import('../../ops/lib/index.js');

/** What the program declared, inputs unwrapped from their secrets. */
export interface DeclaredStack {
  image: Record<string, unknown>;
  /** The data volume the container mounts. */
  volume: Record<string, unknown>;
  /** Every data volume declared: the container's and the older majors' kept ones. */
  volumes: Record<string, unknown>[];
  network: Record<string, unknown>;
  container: Record<string, unknown>;
  command: Record<string, unknown>;
  /** The pre-upgrade Command (runs before the container is created or replaced). */
  preUpgrade: Record<string, unknown>;
  /** The stack's outputs that do not depend on the engine. */
  connectionString: string;
  settings: ReturnType<typeof parseSettings>;
}

const inputsOf = (r: Registered) => plain(r.inputs) as Record<string, unknown>;

/**
 * Runs the program (infra/stack.ts over the repository's migrations) with these stack settings, as
 * infra/index.ts does: the data volumes' majors read from the engine, a major downgrade refused.
 */
export async function declare(raw: Record<string, string>): Promise<DeclaredStack> {
  recorder.reset();
  const settings = parseSettings(raw, 'aetherlens-db');
  const dataMajors = dataVolumeMajors(settings.volumeName, engineVolumeNames());
  checkMajorMove(settings, dataMajors, 'aetherlens-db');
  const init = await loadInitScripts(DEFAULT_MIGRATIONS_DIR);
  const outputs = declareStack({
    settings,
    initScripts: init.map((s) => ({ fileName: s.fileName, content: s.sql })),
    migrationChecksum: await migrationSetChecksum(DEFAULT_MIGRATIONS_DIR),
    repoRoot: REPO_ROOT,
    dataMajors,
  });
  const connectionString = await valueOf(outputs.connectionString);
  await valueOf(outputs.migrationHead);
  await settle();
  const container = inputsOf(recorder.one(':Container'));
  const volumes = recorder.ofType(':Volume').map(inputsOf);
  const mounted = (container.volumes as { volumeName?: string; containerPath: string }[]).find((v) => v.containerPath === '/var/lib/postgresql/data')!.volumeName;
  return {
    image: inputsOf(recorder.one(':RemoteImage')),
    volume: volumes.find((v) => v.name === mounted)!,
    volumes,
    network: inputsOf(recorder.one(':Network')),
    container,
    command: inputsOf(recorder.named('command:local:Command', 'post-deploy-migrate')),
    preUpgrade: inputsOf(recorder.named('command:local:Command', 'pre-upgrade-backup')),
    connectionString,
    settings,
  };
}

/** Go's time.ParseDuration for the forms the stack uses ("10s", "1m0s", "500ms"), in nanoseconds. */
export function goDurationNs(text: string): number {
  const units: Record<string, number> = { h: 3.6e12, m: 6e10, s: 1e9, ms: 1e6, us: 1e3, ns: 1 };
  let total = 0;
  const rest = text.replace(/(\d+(?:\.\d+)?)(h|ms|us|ns|m|s)/g, (_, n: string, unit: string) => {
    total += Number(n) * units[unit]!;
    return '';
  });
  if (rest !== '' || text === '') throw new Error(`not a Go duration: ${text}`);
  return Math.round(total);
}

/** One health status seen while waiting, with how much of the log existed then. */
export interface HealthSample {
  status: string;
  logs: string;
}

/** Volumes and network: created if missing (both are plain creates in the provider). */
export async function createVolumeAndNetwork(stack: DeclaredStack): Promise<void> {
  const labels = (list: unknown) => Object.fromEntries(((list as { label: string; value: string }[]) ?? []).map((l) => [l.label, l.value]));
  for (const volume of stack.volumes) {
    const volumeName = String(volume.name);
    await docker.getVolume(volumeName).inspect().catch(() => docker.createVolume({ Name: volumeName, Driver: String(volume.driver ?? 'local'), Labels: labels(volume.labels) }));
  }
  const networkName = String(stack.network.name);
  await docker.getNetwork(networkName).inspect().catch(() => docker.createNetwork({ Name: networkName, Driver: String(stack.network.driver ?? 'bridge'), Labels: labels(stack.network.labels), CheckDuplicate: true }));
}

/**
 * Creates and starts the container as the provider does, waiting for "healthy" when `wait` is set.
 * `imageFor` maps the declared image name to a local image. `onHealth` sees every status polled.
 */
export async function createContainer(stack: DeclaredStack, imageFor: (declared: string) => string, onHealth?: (sample: HealthSample, container: Docker.Container) => Promise<void> | void): Promise<Docker.Container> {
  const c = stack.container;
  const image = await docker.getImage(imageFor(String(stack.image.name))).inspect();
  const ports = (c.ports as { internal: number; external: number; ip?: string; protocol?: string }[]) ?? [];
  const volumes = (c.volumes as { volumeName?: string; hostPath?: string; containerPath: string }[]) ?? [];
  const hc = c.healthcheck as { tests: string[]; interval: string; timeout: string; retries: number; startPeriod: string };
  const labels = Object.fromEntries(((c.labels as { label: string; value: string }[]) ?? []).map((l) => [l.label, l.value]));
  const container = await docker.createContainer({
    name: String(c.name),
    Image: image.Id,
    Cmd: c.command as string[],
    Env: c.envs as string[],
    Labels: labels,
    ExposedPorts: Object.fromEntries(ports.map((p) => [`${p.internal}/${p.protocol ?? 'tcp'}`, {}])),
    Volumes: Object.fromEntries(volumes.map((v) => [v.containerPath, {}])),
    ...(c.stopTimeout ? { StopTimeout: Number(c.stopTimeout) } : {}),
    Healthcheck: { Test: hc.tests, Interval: goDurationNs(hc.interval), Timeout: goDurationNs(hc.timeout), Retries: hc.retries, StartPeriod: goDurationNs(hc.startPeriod) },
    HostConfig: {
      Binds: volumes.map((v) => `${v.volumeName ?? v.hostPath}:${v.containerPath}:rw`),
      PortBindings: Object.fromEntries(ports.map((p) => [`${p.internal}/${p.protocol ?? 'tcp'}`, [{ HostIp: p.ip ?? '0.0.0.0', HostPort: String(p.external) }]])),
      RestartPolicy: { Name: String(c.restart ?? 'no'), MaximumRetryCount: 0 },
      Memory: Number(c.memory) * 1024 * 1024,
      NanoCpus: Math.round(Number(c.cpus) * 1e9),
      LogConfig: { Type: String(c.logDriver ?? 'json-file'), Config: (c.logOpts as Record<string, string>) ?? {} },
      Init: false,
      NetworkMode: 'bridge',
    },
  });
  await docker.getNetwork('bridge').disconnect({ Container: container.id, Force: false }).catch(() => {});
  for (const net of (c.networksAdvanced as { name: string; aliases?: string[] }[]) ?? []) {
    await docker.getNetwork(net.name).connect({ Container: container.id, EndpointConfig: { Aliases: net.aliases ?? [] } });
  }
  for (const upload of (c.uploads as { file: string; content: string; executable?: boolean }[]) ?? []) {
    await container.putArchive(await tarOf([{ path: upload.file, content: upload.content, mode: upload.executable ? 0o744 : 0o644 }]), { path: '/', noOverwriteDirNonDir: true });
  }
  await container.start();
  if (c.wait) await waitHealthy(container, Number(c.waitTimeout ?? 60), onHealth);
  return container;
}

async function waitHealthy(container: Docker.Container, timeoutSeconds: number, onHealth?: (sample: HealthSample, container: Docker.Container) => Promise<void> | void): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const info = await container.inspect();
    const status = info.State.Health?.Status ?? 'none';
    if (onHealth) await onHealth({ status, logs: '' }, container);
    if (status === 'healthy') return;
    if (Date.now() > deadline) throw new Error('container failed to be in healthy state');
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** The provider's delete: stop with destroyGraceSeconds, remove with force, wait until gone. */
export async function deleteContainer(stack: DeclaredStack): Promise<void> {
  const container = docker.getContainer(String(stack.container.name));
  await container.stop({ t: Number(stack.container.destroyGraceSeconds ?? 0) }).catch(() => {});
  await container.remove({ force: true, v: true }).catch(() => {});
  await container.wait({ condition: 'not-running' }).catch(() => {});
}

export interface CommandRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * A local Command as @pulumi/command runs it: `/bin/sh -c create` in `dir`, env merged. The
 * post-deploy step unless `which` says 'preUpgrade'.
 */
export function runCommand(stack: DeclaredStack, extraEnv: Record<string, string> = {}, which: 'command' | 'preUpgrade' = 'command'): Promise<CommandRun> {
  const cmd = stack[which];
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', String(cmd.create)], {
      cwd: String(cmd.dir),
      env: { ...process.env, ...extraEnv, ...(cmd.environment as Record<string, string>) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ exitCode: code ?? -1, stdout: stdout.replace(/\n$/, ''), stderr: stderr.replace(/\n$/, '') }));
  });
}

/**
 * A first `pulumi up`, in the providers' order: the pre-upgrade step, volume and network, the
 * container, the post-deploy step. The container depends on the pre-upgrade step, so when that
 * fails nothing after it runs (postDeploy null).
 */
export async function firstDeploy(stack: DeclaredStack, imageFor: (declared: string) => string): Promise<{ preUpgrade: CommandRun; postDeploy: CommandRun | null }> {
  const preUpgrade = await runCommand(stack, {}, 'preUpgrade');
  if (preUpgrade.exitCode !== 0) return { preUpgrade, postDeploy: null };
  await createVolumeAndNetwork(stack);
  await createContainer(stack, imageFor);
  return { preUpgrade, postDeploy: await runCommand(stack) };
}

/** The stack's four continuous aggregates, hourly before daily. */
export const AGGREGATES = ['metrics_hourly', 'metrics_daily', 'cost_hourly', 'cost_daily'] as const;

/** Maps each upstream image a stack may declare to its local test image (no registry here). */
export function localImages(images: Record<string, string>): (declared: string) => string {
  return (declared) => {
    const image = images[declared];
    if (!image) throw new Error(`the stack declares ${declared}; only ${Object.keys(images).join(', ')} have local stand-ins`);
    return image;
  };
}

/** How the tests reach the stack's database (its stack output). */
export function stackDatabase(stack: DeclaredStack): ConnectionInfo {
  return parseDatabaseUrl(stack.connectionString, 'connectionString');
}

/** The rows of one query in one database of the stack. */
export async function queryStack<T extends Record<string, unknown>>(stack: DeclaredStack, sql: string, database = 'aetherlens'): Promise<T[]> {
  return withClient(stackDatabase(stack), async (c) => (await c.query<T>(sql)).rows, database);
}

/** The timescaledb extension's version in one database of the stack. */
export async function timescaleVersionIn(stack: DeclaredStack, database: string): Promise<string | undefined> {
  return (await queryStack<{ v: string }>(stack, `SELECT extversion AS v FROM pg_extension WHERE extname = 'timescaledb'`, database))[0]?.v;
}

/** Refreshes every aggregate in full, as an operator would; beside the policies, as our own refreshes do. */
export async function refreshAllAggregates(stack: DeclaredStack): Promise<void> {
  await withClient(stackDatabase(stack), async (c) => {
    for (const aggregate of AGGREGATES) await refreshWaitingOutOthers(c, `CALL refresh_continuous_aggregate('${aggregate}', NULL, NULL)`);
  });
}
