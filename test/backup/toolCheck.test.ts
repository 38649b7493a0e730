import { describe, expect, it } from 'vitest';
import { assertDumpToolFits } from '../../ops/lib/index.js';
import { parsePgVersion } from '../../ops/lib/targets/pgVersion.js';

const host = (version: string) => ({ name: 'pg_dump' as const, version, where: '/usr/bin/pg_dump', origin: 'host' as const });

describe('pg_dump version check', () => {
  it('parses what pg_dump --version prints', () => {
    expect(parsePgVersion('pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n')).toEqual({ version: '15.20', major: 15, minor: 20 });
    expect(parsePgVersion('pg_dump (PostgreSQL) 17.5')).toEqual({ version: '17.5', major: 17, minor: 5 });
    expect(parsePgVersion('pg_dump (PostgreSQL) 16')).toEqual({ version: '16.0', major: 16, minor: 0 });
    expect(parsePgVersion('command not found')).toBeUndefined();
  });

  it('accepts the same major version, same or newer minor', () => {
    expect(() => assertDumpToolFits(host('15.20'), '15.20')).not.toThrow();
    expect(() => assertDumpToolFits(host('15.20'), '15.18')).not.toThrow();
  });

  it('refuses another major version and an older minor, naming the fix', () => {
    expect(() => assertDumpToolFits(host('13.16'), '15.20')).toThrowErrorMatchingInlineSnapshot(`[OpsError: pg_dump 13.16 (/usr/bin/pg_dump) cannot back up this PostgreSQL 15.20 server: it must be the same major version; install PostgreSQL 15's client tools (15.20 or newer; Debian: postgresql-client-15) and set PG_BIN_DIR to their bin directory (e.g. /usr/lib/postgresql/15/bin)]`);
    expect(() => assertDumpToolFits(host('17.2'), '15.20')).toThrow(/must be the same major version/);
    expect(() => assertDumpToolFits(host('15.2'), '15.20')).toThrowErrorMatchingInlineSnapshot(`[OpsError: pg_dump 15.2 (/usr/bin/pg_dump) is older than this PostgreSQL 15.20 server; install PostgreSQL 15's client tools (15.20 or newer; Debian: postgresql-client-15) and set PG_BIN_DIR to their bin directory (e.g. /usr/lib/postgresql/15/bin)]`);
    expect(() => assertDumpToolFits({ ...host('14.1'), where: 'container db', origin: 'container' }, '15.20')).toThrowErrorMatchingInlineSnapshot(`[OpsError: pg_dump 14.1 (container db) cannot back up this PostgreSQL 15.20 server: it must be the same major version; run an image whose client tools are PostgreSQL 15, 15.20 or newer (the stack's image ships matching tools)]`);
  });
});
