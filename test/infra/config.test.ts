// Stack settings: defaults, one clear error per invalid value, and Pulumi.yaml in step with config.ts.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as pulumi from '@pulumi/pulumi';
import { describe, expect, it } from 'vitest';
import { installMocks, valueOf } from './support/mocks.js';

installMocks();
const { CONFIG_DEFAULTS, parseSettings } = await import('../../infra/config.js');
const { PRODUCTION_IMAGE } = await import('../../ops/lib/timescale.js');

const ROOT = new URL('../../', import.meta.url);
// js-yaml comes with @pulumi/pulumi (which parses Pulumi.yaml with it); resolved from there.
const yaml = createRequire(createRequire(import.meta.url).resolve('@pulumi/pulumi'))('js-yaml') as { load(text: string): unknown };

/** The error parseSettings throws for `raw`, as text. */
function errorFor(raw: Record<string, string>): string {
  try {
    parseSettings(raw, 'aetherlens-db');
  } catch (error) {
    expect(pulumi.RunError.isInstance(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error(`no error for ${JSON.stringify(raw)}`);
}

describe('parseSettings', () => {
  it('deploys the image the CLI names as production', () => {
    expect(CONFIG_DEFAULTS.image).toBe(PRODUCTION_IMAGE);
  });

  it('gives the documented defaults for an empty stack', () => {
    const settings = parseSettings({}, 'aetherlens-db');
    expect(settings).toEqual({
      image: 'timescale/timescaledb:2.22.1-pg15',
      pgMajor: 15,
      containerName: 'aetherlens-timescaledb',
      volumeName: 'aetherlens-timescaledb-data',
      hostPort: 5432,
      bindAddress: '127.0.0.1',
      connectHost: '127.0.0.1',
      memoryMb: 512,
      cpus: 1,
      dbName: 'aetherlens',
      dbUser: 'aetherlens',
      dbPassword: undefined,
      backupDir: undefined,
      postgresSettings: {},
      sampleData: true,
      protectData: true,
    });
  });

  it('reads the values Pulumi passes (strings; arrays as JSON)', async () => {
    const settings = parseSettings(
      {
        image: `timescale/timescaledb:2.22.1-pg15@sha256:${'c'.repeat(64)}`,
        hostPort: '6543',
        memoryMb: '2048',
        cpus: '1.5',
        bindAddress: '0.0.0.0',
        allowPublicBind: 'true',
        dbPassword: 'a-long-enough-password',
        postgresSettings: '["log_min_duration_statement=500ms"]',
        sampleData: 'false',
        // The defaults Pulumi.yaml applies to unset keys arrive as empty strings.
        connectHost: '',
        backupDir: '',
      },
      'aetherlens-db',
    );
    expect(settings).toMatchObject({ hostPort: 6543, memoryMb: 2048, cpus: 1.5, bindAddress: '0.0.0.0', connectHost: '127.0.0.1', sampleData: false, backupDir: undefined });
    expect(settings.postgresSettings).toEqual({ log_min_duration_statement: '500ms' });
    expect(await pulumi.isSecret(settings.dbPassword!)).toBe(true);
    expect(await valueOf(settings.dbPassword!)).toBe('a-long-enough-password');
  });

  it('rejects a port outside 1-65535', () => {
    expect(errorFor({ hostPort: '70000' })).toMatchInlineSnapshot(`
      "Invalid stack configuration (1 problem):
        - aetherlens-db:hostPort must be a whole number from 1 to 65535 (got "70000"): pick a free TCP port, e.g. 5432"
    `);
    expect(errorFor({ hostPort: '0' })).toContain('aetherlens-db:hostPort must be a whole number from 1 to 65535 (got "0")');
    expect(errorFor({ hostPort: '54.32' })).toContain('aetherlens-db:hostPort');
  });

  it('rejects less memory than PostgreSQL needs', () => {
    expect(errorFor({ memoryMb: '128' })).toMatchInlineSnapshot(`
      "Invalid stack configuration (1 problem):
        - aetherlens-db:memoryMb must be a whole number from 256 to 1048576 (got "128"): PostgreSQL with TimescaleDB needs at least 256 MB"
    `);
  });

  it('rejects an image that is not TimescaleDB', () => {
    expect(errorFor({ image: 'postgres:15' })).toMatchInlineSnapshot(`
      "Invalid stack configuration (1 problem):
        - aetherlens-db:image must be a TimescaleDB image, timescale/timescaledb:TAG (optionally @sha256:DIGEST) (got "postgres:15"): use the default timescale/timescaledb:2.22.1-pg15"
    `);
    // The -ha image keeps PGDATA elsewhere and runs as another user; an untagged image is a moving target.
    expect(errorFor({ image: 'timescale/timescaledb-ha:pg15' })).toContain('aetherlens-db:image must be a TimescaleDB image');
    expect(errorFor({ image: 'timescale/timescaledb' })).toContain('aetherlens-db:image');
  });

  it('reads the PostgreSQL major from the tag, and rejects an image whose major the tag does not say', () => {
    expect(parseSettings({ image: 'timescale/timescaledb:2.29.2-pg17' }, 'aetherlens-db').pgMajor).toBe(17);
    expect(parseSettings({ image: 'timescale/timescaledb:latest-pg16' }, 'aetherlens-db').pgMajor).toBe(16);
    expect(parseSettings({ image: 'timescale/timescaledb:2.22.1-pg15-oss' }, 'aetherlens-db').pgMajor).toBe(15);
    expect(errorFor({ image: 'timescale/timescaledb:latest' })).toMatchInlineSnapshot(`
      "Invalid stack configuration (1 problem):
        - aetherlens-db:image must name its PostgreSQL major in the tag, like timescale/timescaledb:2.29.2-pg17 (got "timescale/timescaledb:latest"): the stack keeps one data volume per PostgreSQL major"
    `);
    expect(errorFor({ image: `timescale/timescaledb@sha256:${'c'.repeat(64)}` })).toContain('aetherlens-db:image must name its PostgreSQL major in the tag');
  });

  it('rejects binding every interface without the explicit opt-in', () => {
    expect(errorFor({ bindAddress: '0.0.0.0' })).toMatchInlineSnapshot(`
      "Invalid stack configuration (1 problem):
        - aetherlens-db:bindAddress 0.0.0.0 publishes PostgreSQL on every interface of the host: use 127.0.0.1, or run \`pulumi config set allowPublicBind true\` if that is what you want"
    `);
    expect(errorFor({ bindAddress: '::' })).toContain('aetherlens-db:bindAddress :: publishes PostgreSQL on every interface');
    expect(parseSettings({ bindAddress: '0.0.0.0', allowPublicBind: 'true' }, 'aetherlens-db').bindAddress).toBe('0.0.0.0');
    expect(errorFor({ bindAddress: 'localhost' })).toContain('aetherlens-db:bindAddress must be an IP address');
  });

  it('rejects unknown keys, short passwords, bad names and settings the stack owns', () => {
    expect(errorFor({ memoryMB: '1024' })).toContain('aetherlens-db:memoryMB is not a setting of this stack');
    expect(errorFor({ dbPassword: 'short' })).toContain('aetherlens-db:dbPassword is shorter than 12 characters');
    expect(errorFor({ dbPassword: 'short' })).not.toContain('short"');
    expect(errorFor({ dbName: 'Aether Lens' })).toContain('aetherlens-db:dbName must be a lowercase PostgreSQL name');
    expect(errorFor({ containerName: '-bad' })).toContain('aetherlens-db:containerName must be a Docker name');
    expect(errorFor({ cpus: '0' })).toContain('aetherlens-db:cpus must be a CPU count');
    expect(errorFor({ backupDir: 'backups' })).toContain('aetherlens-db:backupDir must be an absolute path');
    expect(errorFor({ sampleData: 'yes' })).toContain('aetherlens-db:sampleData must be true or false');
    expect(errorFor({ postgresSettings: '["port=6543"]' })).toContain('sets port, which the stack manages');
    expect(errorFor({ postgresSettings: '["shared_preload_libraries=pg_stat_statements"]' })).toContain('drops timescaledb');
    expect(errorFor({ postgresSettings: '"work_mem=8MB"' })).toContain('aetherlens-db:postgresSettings must be a list');
  });

  it('reports every problem at once, one line each', () => {
    const message = errorFor({ hostPort: '70000', memoryMb: '64', image: 'mysql:8', bindAddress: '0.0.0.0' });
    expect(message.split('\n')).toHaveLength(5);
    expect(message).toMatch(/^Invalid stack configuration \(4 problems\):/);
    for (const key of ['hostPort', 'memoryMb', 'image', 'bindAddress']) expect(message).toContain(`  - aetherlens-db:${key} `);
  });
});

describe('Pulumi.yaml', () => {
  it('runs infra/index.ts as ESM TypeScript through tsx', async () => {
    const project = yaml.load(await readFile(new URL('Pulumi.yaml', ROOT), 'utf8')) as Record<string, unknown>;
    expect(project).toMatchObject({
      name: 'aetherlens-db',
      main: 'infra/index.ts',
      runtime: { name: 'nodejs', options: { typescript: false, nodeargs: '--import tsx' } },
    });
  });

  it('documents every setting with the type and default config.ts uses', async () => {
    const project = yaml.load(await readFile(new URL('Pulumi.yaml', ROOT), 'utf8')) as { config: Record<string, { type: string; default: unknown; description?: string }> };
    expect(Object.keys(project.config).sort()).toEqual(Object.keys(CONFIG_DEFAULTS).sort());
    for (const [key, fallback] of Object.entries(CONFIG_DEFAULTS)) {
      const declared = project.config[key]!;
      expect(declared.description, key).toBeTruthy();
      expect(declared.default, key).toEqual(fallback);
      const type = Array.isArray(fallback) ? 'array' : typeof fallback === 'number' ? 'integer' : typeof fallback;
      expect(declared.type, key).toBe(type);
    }
  });

  it('has an example stack with valid values and no secrets', async () => {
    const text = await readFile(new URL('Pulumi.example.yaml', ROOT), 'utf8');
    expect(text).not.toMatch(/secure:|encryptionsalt|dbPassword:/);
    const stack = yaml.load(text) as { config: Record<string, unknown> };
    const raw = Object.fromEntries(
      Object.entries(stack.config).map(([key, value]) => [key.replace(/^aetherlens-db:/, ''), typeof value === 'string' ? value : JSON.stringify(value)]),
    );
    expect(() => parseSettings(raw, 'aetherlens-db')).not.toThrow();
  });
});
