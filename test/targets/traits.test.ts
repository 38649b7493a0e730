import { describe, expect, test } from 'vitest';
import { jobEnvironmentFrom, parseDatabaseUrl, targetLabel, targetTraits, type Settings, type TargetSpec } from '../../ops/lib/index.js';

// What each kind says about itself before it is opened (targets/<kind>/index.ts), as the scheduler,
// `jobs run --embedded-only`, `local` and `quickstart` read it.
const server: TargetSpec = { kind: 'server', connection: parseDatabaseUrl('postgres://ops:s3cret@db.example:5433/aetherlens', 'DATABASE_URL') };
const docker: TargetSpec = { kind: 'docker', container: 'aetherlens-db' };
const embedded: TargetSpec = { kind: 'embedded', dataDir: '/srv/aetherlens/embedded' };

describe('targetTraits', () => {
  test('labels: the server with its password blanked, the container, the data directory', () => {
    expect([server, docker, embedded].map(targetLabel)).toEqual([
      'postgres://ops:***@db.example:5433/aetherlens',
      'docker aetherlens-db',
      'embedded /srv/aetherlens/embedded',
    ]);
  });

  test('only the embedded engine needs its policy jobs run for it, and only it is opened in-process', () => {
    expect([server, docker, embedded].map((s) => targetTraits(s).runsPolicyJobsItself)).toEqual([true, true, false]);
    expect([server, docker, embedded].map((s) => targetTraits(s).inProcessDataDir)).toEqual([undefined, undefined, '/srv/aetherlens/embedded']);
  });

  test('secrets: the password a server spec carries', () => {
    expect([server, docker, embedded].map((s) => targetTraits(s).secrets)).toEqual([['s3cret'], [], []]);
  });

  test("a job's environment reaches the same target", () => {
    const settings = (target: TargetSpec): Settings => ({ target, backupDir: '/b', migrationsDir: '/m', pgBinDir: '/usr/lib/postgresql/15/bin', environment: {} } as unknown as Settings);
    expect(jobEnvironmentFrom(settings(docker))).toMatchObject({ AETHERLENS_DB_CONTAINER: 'aetherlens-db', AETHERLENS_BACKUP_DIR: '/b', AETHERLENS_MIGRATIONS_DIR: '/m', PG_BIN_DIR: '/usr/lib/postgresql/15/bin' });
    expect(jobEnvironmentFrom(settings(embedded))).toMatchObject({ AETHERLENS_EMBEDDED_DIR: '/srv/aetherlens/embedded' });
    expect(Object.keys(jobEnvironmentFrom(settings(server))).filter((k) => k.startsWith('AETHERLENS_DB') || k === 'AETHERLENS_EMBEDDED_DIR')).toEqual([]);
  });
});
