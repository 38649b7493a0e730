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

afterEach(() => {
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
});
