// The stack under Pulumi mocks: every resource and input the issue names, secrets, the post-deploy
// step's dependency and trigger. Mocks are installed before the program modules are imported.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';
import { GENERATED_PASSWORD, installMocks, migrationsFixture, MOCK_REPO_DIGEST, plain, plainTextOccurrences, isRpcSecret, settle, valueOf } from './support/mocks.js';

const recorder = installMocks();
const { parseSettings } = await import('../../infra/config.js');
const { declareStack } = await import('../../infra/stack.js');
const { tuningFor } = await import('../../infra/tuning.js');
const { serverCommand } = await import('../../infra/timescaledb.js');
const { loadInitScripts, migrationSetChecksum } = await import('../../ops/lib/migrations/files.js');

const PASSWORD = 'Test-Passw0rd/with:url@chars';
const REPO_ROOT = '/srv/aetherlens-db';

type Outputs = ReturnType<typeof declareStack>;

async function declare(raw: Record<string, string>, migrationsDir: string): Promise<Outputs> {
  recorder.reset();
  const init = await loadInitScripts(migrationsDir);
  const outputs = declareStack({
    settings: parseSettings(raw, 'aetherlens-db'),
    initScripts: init.map((s) => ({ fileName: s.fileName, content: s.sql })),
    migrationChecksum: await migrationSetChecksum(migrationsDir),
    repoRoot: REPO_ROOT,
  });
  await valueOf(outputs.migrationHead);
  await settle();
  return outputs;
}

function inputs(suffix: string): Record<string, unknown> {
  return recorder.one(suffix).inputs;
}

describe('the default stack (512 MB, 1 CPU, password given as a secret)', () => {
  let migrationsDir: string;
  let outputs: Outputs;
  let container: Record<string, unknown>;

  beforeAll(async () => {
    migrationsDir = await migrationsFixture();
    outputs = await declare({ dbPassword: PASSWORD }, migrationsDir);
    container = inputs(':Container');
  });

  it('pulls timescale/timescaledb:2.22.1-pg15 and keeps it locally', () => {
    expect(inputs(':RemoteImage')).toMatchObject({ name: 'timescale/timescaledb:2.22.1-pg15', keepLocally: true });
    expect(container.image).toBe(`sha256:${'b'.repeat(64)}`);
  });

  it('keeps data in a named, protected volume mounted at the image PGDATA', () => {
    const volume = recorder.one(':Volume');
    expect(volume.inputs).toMatchObject({ name: 'aetherlens-timescaledb-data', driver: 'local' });
    expect(volume.protect).toBe(true);
    expect(volume.retainOnDelete).toBe(true);
    expect(container.volumes).toEqual([{ volumeName: 'aetherlens-timescaledb-data', containerPath: '/var/lib/postgresql/data' }]);
    expect(container.envs).toContain('PGDATA=/var/lib/postgresql/data');
  });

  it('attaches the container to its own bridge network', () => {
    expect(inputs(':Network')).toMatchObject({ name: 'aetherlens-timescaledb-net', driver: 'bridge' });
    expect(container.networksAdvanced).toEqual([{ name: 'aetherlens-timescaledb-net', aliases: ['timescaledb'] }]);
  });

  it('publishes 5432 on 127.0.0.1 only', () => {
    expect(container.ports).toEqual([{ internal: 5432, external: 5432, ip: '127.0.0.1', protocol: 'tcp' }]);
  });

  it('restarts unless stopped, with the memory and CPU limits', () => {
    expect(container).toMatchObject({ name: 'aetherlens-timescaledb', restart: 'unless-stopped', memory: 512, cpus: '1' });
  });

  it('replaces the named container and network by deleting the old one first', () => {
    expect(recorder.one(':Container').deleteBeforeReplace).toBe(true);
    expect(recorder.one(':Network').deleteBeforeReplace).toBe(true);
  });

  it('checks health with pg_isready against the real database and user, and waits for it', () => {
    expect(container.healthcheck).toEqual({
      tests: ['CMD', 'pg_isready', '-h', '127.0.0.1', '-p', '5432', '-U', 'aetherlens', '-d', 'aetherlens'],
      interval: '10s',
      timeout: '5s',
      retries: 6,
      startPeriod: '1m0s',
    });
    expect(container).toMatchObject({ wait: true, waitTimeout: 180, stopTimeout: 60, destroyGraceSeconds: 60 });
  });

  it('sets the database, user, password file and telemetry off, and leaves tuning to the stack', () => {
    expect(container.envs).toEqual([
      'POSTGRES_DB=aetherlens',
      'POSTGRES_USER=aetherlens',
      'POSTGRES_PASSWORD_FILE=/run/secrets/aetherlens-db-password',
      'PGDATA=/var/lib/postgresql/data',
      'TIMESCALEDB_TELEMETRY=off',
      'NO_TS_TUNE=true',
    ]);
  });

  it('passes the 512 MB / 1 CPU tuning as explicit -c flags', () => {
    expect(container.command).toEqual(serverCommand({ ...tuningFor(512, 1) }));
    const flags = (container.command as string[]).filter((_, i, all) => all[i - 1] === '-c');
    expect(flags).toEqual(
      expect.arrayContaining([
        'shared_buffers=128MB',
        'effective_cache_size=384MB',
        'work_mem=2621kB',
        'maintenance_work_mem=64MB',
        'max_connections=25',
        'timescaledb.max_background_workers=16',
        'max_worker_processes=20',
      ]),
    );
  });

  it('uploads migrations/init into /docker-entrypoint-initdb.d and the password file, as a secret', async () => {
    expect(isRpcSecret(container.uploads)).toBe(true);
    const sql = await readFile(join(migrationsDir, 'init', '01-enable-timescaledb.sql'), 'utf8');
    expect(plain(container.uploads)).toEqual([
      { file: '/docker-entrypoint-initdb.d/01-enable-timescaledb.sql', content: sql },
      { file: '/run/secrets/aetherlens-db-password', content: PASSWORD },
    ]);
  });

  it('bounds the container logs', () => {
    expect(container).toMatchObject({ logDriver: 'json-file', logOpts: { 'max-size': '10m', 'max-file': '3' } });
  });

  it('labels the container, volume and network', () => {
    const labels = [
      { label: 'aetherlens.component', value: 'timescaledb' },
      { label: 'aetherlens.stack', value: 'aetherlens-db/test' },
    ];
    expect(container.labels).toEqual(labels);
    expect(inputs(':Volume').labels).toEqual(labels);
    expect(inputs(':Network').labels).toEqual(labels);
  });

  it('never puts the password in plain text into any input', () => {
    expect(recorder.resources.length).toBeGreaterThan(5);
    for (const resource of recorder.resources) {
      expect(plainTextOccurrences(resource.inputs, PASSWORD), `${resource.type} ${resource.name}`).toEqual([]);
      expect(plainTextOccurrences(resource.inputs, encodeURIComponent(PASSWORD)), `${resource.type} ${resource.name}`).toEqual([]);
    }
    expect(recorder.ofType(':RandomPassword')).toHaveLength(0);
  });

  it('runs the post-deploy step after the container, with the secrets in its environment', () => {
    const step = recorder.named('command:local:Command', 'post-deploy-migrate');
    const containerUrn = recorder.one(':Container').urn;
    expect(containerUrn).toMatch(/docker:index\/container:Container::timescaledb-container$/);
    expect(step.dependencies).toContain(containerUrn);
    expect(step.inputs).toMatchObject({ create: 'sh infra/post-deploy.sh --seed', dir: REPO_ROOT, addPreviousOutputInEnv: false });
    const env = step.inputs.environment as Record<string, unknown>;
    expect(isRpcSecret(env) || isRpcSecret(env.DATABASE_URL)).toBe(true);
    expect(plain(env)).toEqual({
      DATABASE_URL: `postgres://aetherlens:${encodeURIComponent(PASSWORD)}@127.0.0.1:5432/aetherlens`,
      DB_CONTAINER: 'aetherlens-timescaledb',
    });
  });

  it('carries the migration-set checksum and the image as its triggers (a new image runs upgrade)', async () => {
    const checksum = await migrationSetChecksum(migrationsDir);
    expect(plain(recorder.named('command:local:Command', 'post-deploy-migrate').inputs.triggers)).toEqual([checksum, 'timescale/timescaledb:2.22.1-pg15']);
    expect(await valueOf(outputs.migrationChecksum)).toBe(checksum);
  });

  it('takes the pre-upgrade backup before the container is created or replaced, triggered by the image only', () => {
    const step = recorder.named('command:local:Command', 'pre-upgrade-backup');
    expect(step.inputs).toMatchObject({ create: 'sh infra/pre-upgrade.sh', dir: REPO_ROOT, addPreviousOutputInEnv: false });
    expect(plain(step.inputs.triggers)).toEqual(['timescale/timescaledb:2.22.1-pg15']);
    expect(plain(step.inputs.environment)).toEqual({ DB_CONTAINER: 'aetherlens-timescaledb', IMAGE_PG_MAJOR: '15' });
    // Pulumi expands a dependency on the component to the command inside it.
    expect(recorder.one(':Container').dependencies).toContain(step.urn);
  });

  it('exports the connection details, with the connection string secret', async () => {
    expect(outputs).toMatchObject({ host: '127.0.0.1', port: 5432, database: 'aetherlens', user: 'aetherlens', backupDir: '' });
    expect(await valueOf(outputs.containerName)).toBe('aetherlens-timescaledb');
    expect(await valueOf(outputs.volumeName)).toBe('aetherlens-timescaledb-data');
    expect(await valueOf(outputs.imageRepoDigest)).toBe(MOCK_REPO_DIGEST);
    expect(await valueOf(outputs.migrationHead)).toBe('3');
    expect(await pulumi.isSecret(outputs.connectionString)).toBe(true);
    expect(await valueOf(outputs.connectionString)).toBe(`postgres://aetherlens:${encodeURIComponent(PASSWORD)}@127.0.0.1:5432/aetherlens`);
    for (const name of ['containerName', 'volumeName', 'imageRepoDigest', 'migrationHead', 'migrationChecksum'] as const) {
      expect(await pulumi.isSecret(outputs[name])).toBe(false);
      expect(String(await valueOf(outputs[name]))).not.toContain(PASSWORD);
    }
  });
});

describe('a stack without a password', () => {
  it('generates one in state and keeps it secret everywhere', async () => {
    const outputs = await declare({}, await migrationsFixture());
    expect(recorder.one(':RandomPassword').inputs).toMatchObject({ length: 32, special: false });
    for (const resource of recorder.resources.filter((r) => !r.type.endsWith(':RandomPassword'))) {
      expect(plainTextOccurrences(resource.inputs, GENERATED_PASSWORD), `${resource.type} ${resource.name}`).toEqual([]);
    }
    expect(plain(recorder.one(':Container').inputs.uploads)).toContainEqual({ file: '/run/secrets/aetherlens-db-password', content: GENERATED_PASSWORD });
    expect(await pulumi.isSecret(outputs.connectionString)).toBe(true);
    expect(await valueOf(outputs.connectionString)).toContain(`:${GENERATED_PASSWORD}@`);
  });
});

describe('a 2 GB, 2 CPU stack with extras', () => {
  it('sizes PostgreSQL from the limits and applies the extra settings over them', async () => {
    await declare(
      {
        dbPassword: PASSWORD,
        memoryMb: '2048',
        cpus: '2',
        postgresSettings: JSON.stringify(['log_min_duration_statement=500ms', 'random_page_cost=4']),
        sampleData: 'false',
        backupDir: '/srv/backups',
        hostPort: '15432',
      },
      await migrationsFixture(),
    );
    const container = inputs(':Container');
    expect(container).toMatchObject({ memory: 2048, cpus: '2' });
    const flags = (container.command as string[]).filter((_, i, all) => all[i - 1] === '-c');
    expect(flags).toEqual(
      expect.arrayContaining([
        'shared_buffers=512MB',
        'effective_cache_size=1536MB',
        'work_mem=10485kB',
        'maintenance_work_mem=256MB',
        'max_connections=25',
        'timescaledb.max_background_workers=16',
        'max_worker_processes=21',
        'max_parallel_workers_per_gather=1',
        'log_min_duration_statement=500ms',
        'random_page_cost=4',
      ]),
    );
    expect(flags).not.toContain('random_page_cost=1.1');
    expect(container.ports).toEqual([{ internal: 5432, external: 15432, ip: '127.0.0.1', protocol: 'tcp' }]);
    expect(container.volumes).toContainEqual({ hostPath: '/srv/backups', containerPath: '/backups' });
    expect(recorder.named('command:local:Command', 'post-deploy-migrate').inputs.create).toBe('sh infra/post-deploy.sh');
  });
});

describe('the post-deploy trigger', () => {
  async function trigger(dir: string): Promise<unknown> {
    await declare({ dbPassword: PASSWORD }, dir);
    return plain(recorder.named('command:local:Command', 'post-deploy-migrate').inputs.triggers);
  }

  it('stays the same when nothing changed and changes with any migration file', async () => {
    const dir = await migrationsFixture();
    const first = await trigger(dir);
    expect(await trigger(dir)).toEqual(first);

    await writeFile(join(dir, 'versions', '002_metrics.sql'), 'CREATE TABLE metrics (time timestamptz NOT NULL, value double precision);\n');
    const afterVersion = await trigger(dir);
    expect(afterVersion).not.toEqual(first);

    await writeFile(join(dir, 'versions', '003_more.sql'), 'SELECT 1;\n');
    const afterNewFile = await trigger(dir);
    expect(afterNewFile).not.toEqual(afterVersion);

    await writeFile(join(dir, 'init', '01-enable-timescaledb.sql'), 'CREATE EXTENSION IF NOT EXISTS timescaledb CASCADE;\n');
    expect(await trigger(dir)).not.toEqual(afterNewFile);
  });
});
