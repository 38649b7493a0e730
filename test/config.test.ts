import { describe, expect, test } from 'vitest';
import { resolveSettings } from '../ops/lib/config.js';
import { describeConnection, parseDatabaseUrl, redact } from '../ops/lib/connection.js';
import { assertTimescaleUsable } from '../ops/lib/timescale.js';

describe('settings', () => {
  test('nothing configured means the embedded target in .aetherlens/embedded', () => {
    const settings = resolveSettings({}, {});
    expect(settings.target).toEqual({ kind: 'embedded', dataDir: `${process.cwd()}/.aetherlens/embedded` });
    expect(settings.backupDir).toBe(`${process.cwd()}/.aetherlens/backups`);
  });

  test('DATABASE_URL means a server; the password stays out of descriptions', () => {
    const settings = resolveSettings({}, { DATABASE_URL: 'postgres://app:p%40ss@db.local:6543/energy' });
    expect(settings.target).toEqual({ kind: 'server', connection: { host: 'db.local', port: 6543, user: 'app', password: 'p@ss', database: 'energy' } });
    if (settings.target.kind === 'server') expect(describeConnection(settings.target.connection)).toBe('postgres://app:***@db.local:6543/energy');
  });

  test('every problem is reported at once, naming the setting', () => {
    expect(() => resolveSettings({ container: 'bad name!' }, { AETHERLENS_BACKUP_DIRR: '/x', AETHERLENS_LOCK_TIMEOUT: 'soon' })).toThrowErrorMatchingInlineSnapshot(
      `
      [OpsError: configuration has 3 problems:
        - AETHERLENS_BACKUP_DIRR is not a setting aetherlens-db knows (known: AETHERLENS_DB_CONTAINER, AETHERLENS_DB_NAME, AETHERLENS_DB_USER, AETHERLENS_EMBEDDED_DIR, AETHERLENS_BACKUP_DIR, AETHERLENS_MIGRATIONS_DIR, …): check the spelling
        - container name "bad name!" is not a valid Docker name: use letters, digits, _ . -
        - AETHERLENS_LOCK_TIMEOUT must be a number of seconds from 0 to 3600]
    `,
    );
  });

  test('a server and a container at once is ambiguous', () => {
    expect(() => resolveSettings({}, { DATABASE_URL: 'postgres://h/db', AETHERLENS_DB_CONTAINER: 'c' })).toThrow('both a server (DATABASE_URL / --database-url) and a container (--container / AETHERLENS_DB_CONTAINER) are set: choose one');
  });
});

describe('connection strings', () => {
  test.each([
    ['mysql://u:secret@h/db', 'DATABASE_URL must start with postgres:// or postgresql:// (got mysql://)'],
    ['postgres://u:secret@h:99999/db', 'DATABASE_URL is not a valid URL: expected postgres://USER:PASSWORD@HOST:PORT/DATABASE'],
    ['not a url secret', 'DATABASE_URL is not a valid URL: expected postgres://USER:PASSWORD@HOST:PORT/DATABASE'],
  ])('%s is refused without echoing it', (url, message) => {
    expect(() => parseDatabaseUrl(url)).toThrow(message);
    try {
      parseDatabaseUrl(url);
    } catch (error) {
      expect((error as Error).message).not.toContain('secret');
    }
  });

  test('redact masks passwords in URLs and known secrets', () => {
    expect(redact('failed for postgres://admin:hunter22@db:5432/x and hunter22 again', ['hunter22'])).toBe('failed for postgres://admin:***@db:5432/x and *** again');
  });
});

describe('TimescaleDB presence', () => {
  test('a server without the extension files is told what to install', () => {
    expect(() => assertTimescaleUsable({ serverVersion: '15.18', serverMajor: 15, preloaded: false })).toThrow(
      'TimescaleDB is not installed on this PostgreSQL 15.18 server: run the timescale/timescaledb:2.22.1-pg15 image (pulumi up) or install the timescaledb-2-postgresql-15 package',
    );
  });
});
