/**
 * Pulumi mocks that record what the program registers: each resource's type, name and inputs (as
 * the engine would receive them, secrets still wrapped) and its direct dependencies. Install them
 * before importing any module that declares resources.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';

/** rpc.ts: how a secret travels over the wire, `{ [SIG_KEY]: SECRET_SIG, value }`. */
export const SIG_KEY = '4dabf18193072939515e22adb298388d';
export const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';

export const GENERATED_PASSWORD = 'GeneratedPassw0rdFromMockRandom';
export const MOCK_REPO_DIGEST = `timescale/timescaledb@sha256:${'a'.repeat(64)}`;
export const MOCK_STATUS_JSON = '{"head":3,"pending":[]}';

export interface Registered {
  type: string;
  name: string;
  urn: string;
  inputs: Record<string, unknown>;
  /** URNs this resource waits for (dependsOn and data dependencies). */
  dependencies: string[];
  /** Resource options as sent to the engine. */
  protect: boolean;
  retainOnDelete: boolean;
  deleteBeforeReplace: boolean;
}

export interface Recorder {
  resources: Registered[];
  /** The resources whose type ends with `suffix` (e.g. ':Container'). */
  ofType(suffix: string): Registered[];
  /** The one resource of that type; fails when there is not exactly one. */
  one(suffix: string): Registered;
  /** The one resource of that type and name (a stack has two local Commands). */
  named(suffix: string, name: string): Registered;
  reset(): void;
}

type RegisterCallback = (err: unknown, response: { getUrn(): string } | undefined) => void;

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getProtect(): boolean | undefined;
  getRetainondelete(): boolean | undefined;
  getDeletebeforereplace(): boolean | undefined;
}

/** Sets the mocks for project `aetherlens-db`, stack `test`, not a preview. */
export function installMocks(project = 'aetherlens-db', stack = 'test'): Recorder {
  const resources: Registered[] = [];
  const pending: { type: string; name: string; dependencies: string[]; protect: boolean; retainOnDelete: boolean; deleteBeforeReplace: boolean }[] = [];

  void pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs) {
        const index = pending.findIndex((d) => d.type === args.type && d.name === args.name);
        const request = index >= 0 ? pending.splice(index, 1)[0]! : { dependencies: [], protect: false, retainOnDelete: false, deleteBeforeReplace: false };
        resources.push({
          type: args.type,
          name: args.name,
          urn: '',
          inputs: args.inputs as Record<string, unknown>,
          dependencies: request.dependencies,
          protect: request.protect,
          retainOnDelete: request.retainOnDelete,
          deleteBeforeReplace: request.deleteBeforeReplace,
        });
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type.endsWith(':RemoteImage')) Object.assign(state, { imageId: `sha256:${'b'.repeat(64)}`, repoDigest: MOCK_REPO_DIGEST });
        if (args.type.endsWith(':RandomPassword')) Object.assign(state, { result: GENERATED_PASSWORD });
        if (args.type === 'command:local:Command') Object.assign(state, { stdout: MOCK_STATUS_JSON, stderr: '' });
        return { id: `${args.name}-id`, state };
      },
      call(args: pulumi.runtime.MockCallArgs) {
        return args.inputs as Record<string, unknown>;
      },
    },
    project,
    stack,
    false,
  );

  // The mock hides dependencies and options from newResource; read them off the request the SDK sends.
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: RegisterRequest, cb: RegisterCallback): void };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: RegisterRequest, cb: RegisterCallback) => {
    pending.push({
      type: req.getType(),
      name: req.getName(),
      dependencies: req.getDependenciesList(),
      protect: req.getProtect() === true,
      retainOnDelete: req.getRetainondelete() === true,
      deleteBeforeReplace: req.getDeletebeforereplace() === true,
    });
    register(req, (err, response) => {
      const registered = resources.find((r) => r.type === req.getType() && r.name === req.getName() && r.urn === '');
      if (registered && response) registered.urn = response.getUrn();
      cb(err, response);
    });
  };

  const ofType = (suffix: string) => resources.filter((r) => r.type.endsWith(suffix));
  return {
    resources,
    ofType,
    one(suffix) {
      const found = ofType(suffix);
      if (found.length !== 1) throw new Error(`expected one ${suffix}, found ${found.length}`);
      return found[0]!;
    },
    named(suffix, name) {
      const found = ofType(suffix).filter((r) => r.name === name);
      if (found.length !== 1) throw new Error(`expected one ${suffix} named ${name}, found ${found.length}`);
      return found[0]!;
    },
    reset() {
      resources.length = 0;
    },
  };
}

/** The value of an Output (mocks resolve everything; never call this in a preview). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((v) => resolve(v)));
}

/** Waits until every resource declared so far has been registered with the mocks. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

export function isRpcSecret(value: unknown): value is { value: unknown } {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

/** Unwraps secrets, for asserting on the plain shape of an input. */
export function plain(value: unknown): unknown {
  if (isRpcSecret(value)) return plain(value.value);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

/** Paths (like `envs[2]`) where `needle` occurs in plain text, outside any secret wrapper. */
export function plainTextOccurrences(value: unknown, needle: string, path = ''): string[] {
  if (isRpcSecret(value)) return [];
  if (typeof value === 'string') return value.includes(needle) ? [path || '(root)'] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => plainTextOccurrences(v, needle, `${path}[${i}]`));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => plainTextOccurrences(v, needle, path ? `${path}.${k}` : k));
  }
  return [];
}

/** A migrations folder like the repository's: init/01-enable-timescaledb.sql and two versions. */
export async function migrationsFixture(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'aetherlens-infra-'));
  await mkdir(join(dir, 'init'));
  await mkdir(join(dir, 'versions'));
  await writeFile(join(dir, 'init', '01-enable-timescaledb.sql'), 'CREATE EXTENSION IF NOT EXISTS timescaledb;\n');
  await writeFile(join(dir, 'versions', '001_core_tables.sql'), 'CREATE TABLE devices (id text PRIMARY KEY);\n');
  await writeFile(join(dir, 'versions', '002_metrics.sql'), 'CREATE TABLE metrics (time timestamptz NOT NULL);\n');
  return dir;
}
