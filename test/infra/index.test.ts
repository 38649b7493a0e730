// The program entry as Pulumi runs it: config in, stack outputs out; invalid config fails up front.
import * as pulumi from '@pulumi/pulumi';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { installMocks, migrationsFixture, settle, valueOf } from './support/mocks.js';

const recorder = installMocks();
const migrationsDir = await migrationsFixture();

// The repository's migrations/ is being written by others; point the program at a fixture instead.
vi.doMock('../../ops/lib/migrations/files.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../ops/lib/migrations/files.js')>()),
  DEFAULT_MIGRATIONS_DIR: migrationsDir,
}));

// The engine's volumes (which PostgreSQL majors have data) come from `docker volume ls`; this suite
// has no engine: a first deploy, unless a test says otherwise.
let engineVolumes: string[] = [];
vi.doMock('../../infra/dataVolumes.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../infra/dataVolumes.js')>()),
  engineVolumeNames: () => engineVolumes,
}));

afterEach(() => {
  engineVolumes = [];
  vi.resetModules();
  recorder.reset();
});

describe('infra/index.ts', () => {
  it('exports the stack outputs, the connection string as a secret', async () => {
    pulumi.runtime.setAllConfig({ 'aetherlens-db:dbPassword': 'index-test-password' }, ['aetherlens-db:dbPassword']);
    const program = await import('../../infra/index.js');
    await valueOf(program.migrationHead);
    await settle();

    expect(Object.keys(program).sort()).toEqual(
      ['backupDir', 'connectionString', 'containerName', 'database', 'host', 'imageRepoDigest', 'migrationChecksum', 'migrationHead', 'port', 'preUpgrade', 'user', 'volumeName'].sort(),
    );
    expect(program).toMatchObject({ host: '127.0.0.1', port: 5432, database: 'aetherlens', user: 'aetherlens' });
    expect(await pulumi.isSecret(program.connectionString)).toBe(true);
    expect(await valueOf(program.migrationHead)).toBe('3');
    expect(recorder.named('command:local:Command', 'post-deploy-migrate').inputs.dir).toMatch(/\/$/);
    expect(recorder.ofType(':Container')).toHaveLength(1);
  });

  it('fails before declaring anything when the config is invalid, naming the key', async () => {
    pulumi.runtime.setAllConfig({ 'aetherlens-db:hostPort': '0', 'aetherlens-db:bindAddress': '0.0.0.0' }, []);
    const failure = await import('../../infra/index.js').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(pulumi.RunError.isInstance(failure)).toBe(true);
    expect((failure as Error).message).toContain('aetherlens-db:hostPort must be a whole number from 1 to 65535');
    expect((failure as Error).message).toContain('aetherlens-db:bindAddress 0.0.0.0 publishes PostgreSQL on every interface');
    expect(recorder.resources).toHaveLength(0);
  });

  it('a new PostgreSQL major gets a volume of its own; the PG15 volume stays declared, protected, under its old name', async () => {
    engineVolumes = ['aetherlens-timescaledb-data', 'someone-elses-volume'];
    pulumi.runtime.setAllConfig({ 'aetherlens-db:dbPassword': 'index-test-password', 'aetherlens-db:image': 'timescale/timescaledb:2.29.2-pg17' }, ['aetherlens-db:dbPassword']);
    const program = await import('../../infra/index.js');
    await valueOf(program.migrationHead);
    await settle();
    const volumes = recorder.ofType(':Volume').map((v) => ({ urnName: v.name, name: v.inputs.name, protect: v.protect, retainOnDelete: v.retainOnDelete }));
    expect(volumes).toEqual([
      { urnName: 'timescaledb-data', name: 'aetherlens-timescaledb-data', protect: true, retainOnDelete: true },
      { urnName: 'timescaledb-data-pg17', name: 'aetherlens-timescaledb-data-pg17', protect: true, retainOnDelete: true },
    ]);
    expect(recorder.one(':Container').inputs.volumes).toEqual([{ volumeName: 'aetherlens-timescaledb-data-pg17', containerPath: '/var/lib/postgresql/data' }]);
    expect(await valueOf(program.volumeName)).toBe('aetherlens-timescaledb-data-pg17');
  });

  it('setting the old image again is the rollback: the PG15 volume is mounted again, the PG17 one stays', async () => {
    engineVolumes = ['aetherlens-timescaledb-data', 'aetherlens-timescaledb-data-pg17'];
    pulumi.runtime.setAllConfig({ 'aetherlens-db:dbPassword': 'index-test-password', 'aetherlens-db:image': 'timescale/timescaledb:2.28.3-pg15' }, ['aetherlens-db:dbPassword']);
    const program = await import('../../infra/index.js');
    await valueOf(program.migrationHead);
    await settle();
    expect(recorder.ofType(':Volume').map((v) => v.inputs.name)).toEqual(['aetherlens-timescaledb-data', 'aetherlens-timescaledb-data-pg17']);
    expect(recorder.one(':Container').inputs.volumes).toEqual([{ volumeName: 'aetherlens-timescaledb-data', containerPath: '/var/lib/postgresql/data' }]);
  });

  it('refuses a major downgrade to a major without a volume, in one line, before declaring anything', async () => {
    engineVolumes = ['aetherlens-timescaledb-data-pg17'];
    pulumi.runtime.setAllConfig({ 'aetherlens-db:image': 'timescale/timescaledb:2.28.3-pg15' }, []);
    const failure = await import('../../infra/index.js').then(() => undefined, (error: unknown) => error);
    expect(pulumi.RunError.isInstance(failure)).toBe(true);
    expect((failure as Error).message).toBe(
      'Invalid stack configuration (1 problem):\n  - aetherlens-db:image timescale/timescaledb:2.28.3-pg15 runs PostgreSQL 15, but this stack\'s data is on PostgreSQL 17 and no PostgreSQL 15 volume of it exists: PostgreSQL cannot move data to an older major; use an image with PostgreSQL 17 or newer',
    );
    expect(recorder.resources).toHaveLength(0);
  });
});
