import { describe, expect, test } from 'vitest';
import { assertRestorable } from '../../ops/lib/restore/compat.js';
import type { SiteFacts } from '../../ops/lib/targets/restoreSite.js';
import { fakeManifest } from './support.js';

const server: SiteFacts = { serverVersion: '15.20', serverMajor: 15, timescaleVersions: ['2.22.1'], edition: 'timescale', dumpFormat: 'custom', where: 'the server at postgres://postgres@db:5432/postgres', restoreMajor: 15 };
const embedded: SiteFacts = { serverVersion: '17.5', serverMajor: 17, timescaleVersions: ['2.23.0-dev'], edition: 'timescale', dumpFormat: 'sql-gzip', where: 'the embedded engine of this aetherlens-db' };
const id = '20261120T020000Z-aetherlens';
const base = fakeManifest({ id, createdAt: '2026-11-20T02:00:00.000Z' });

const message = (fn: () => void) => {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
};

describe('whether a site can restore a backup', () => {
  test('the same versions pass', () => {
    expect(message(() => assertRestorable(base, server))).toBeUndefined();
  });

  test('another TimescaleDB version on the server: says which to run and how to upgrade after', () => {
    const m = { ...base, versions: { ...base.versions, timescaledb: '2.18.0' } };
    expect(message(() => assertRestorable(m, server))).toBe(`backup ${id} was taken with TimescaleDB 2.18.0, but the server at postgres://postgres@db:5432/postgres offers TimescaleDB 2.22.1: restore it on a server that has TimescaleDB 2.18.0 (e.g. the timescale/timescaledb:2.18.0-pg15 image or the timescaledb-2-postgresql-15=2.18.0* package), then upgrade there with ALTER EXTENSION timescaledb UPDATE as the first command of a new psql -X session; nothing was changed`);
  });

  test('the server offers several versions: the dump\'s is enough', () => {
    const m = { ...base, versions: { ...base.versions, timescaledb: '2.18.0' } };
    expect(message(() => assertRestorable(m, { ...server, timescaleVersions: ['2.18.0', '2.22.1'] }))).toBeUndefined();
  });

  test('no TimescaleDB at all on the server', () => {
    expect(message(() => assertRestorable(base, { ...server, timescaleVersions: [] }))).toMatch(/offers no TimescaleDB at all: restore it on a server that has TimescaleDB 2\.22\.1/);
  });

  test('embedded: the engine\'s version is fixed, so the aetherlens-db that took it is named', () => {
    const m = fakeManifest({ id, createdAt: base.createdAt, dump: { ...base.dump, format: 'sql-gzip' }, versions: { ...base.versions, server: '17.5', timescaledb: '2.22.0', aetherlensDb: '0.0.9' } });
    expect(message(() => assertRestorable(m, embedded))).toBe(`backup ${id} was taken with TimescaleDB 2.22.0, but the embedded engine of this aetherlens-db offers TimescaleDB 2.23.0-dev: restore it with the aetherlens-db version that took it (0.0.9), whose engine runs TimescaleDB 2.22.0, then upgrade there with ALTER EXTENSION timescaledb UPDATE as the first command of a new psql -X session; nothing was changed`);
  });

  test('a dump of another kind of target', () => {
    expect(message(() => assertRestorable(base, embedded))).toBe(`backup ${id} was taken from a PostgreSQL server (server, pg_dump custom format) and cannot be restored to the embedded engine of this aetherlens-db: restore it on the kind of target that took it (server); nothing was changed`);
  });

  test('a newer PostgreSQL than the server', () => {
    const m = { ...base, versions: { ...base.versions, server: '16.4', pgDump: '16.4' } };
    expect(message(() => assertRestorable(m, server))).toBe(`backup ${id} comes from PostgreSQL 16.4, but the server at postgres://postgres@db:5432/postgres runs PostgreSQL 15.20: restore it on PostgreSQL 16 or newer; nothing was changed`);
  });

  test('a pg_restore older than the pg_dump that wrote it', () => {
    const m = { ...base, versions: { ...base.versions, server: '15.20', pgDump: '16.4' } };
    expect(message(() => assertRestorable(m, server))).toBe(`backup ${id} was written by pg_dump 16.4, which pg_restore 15 cannot read: install PostgreSQL 16's client tools and set PG_BIN_DIR to their bin directory; nothing was changed`);
  });

  test('community features onto the Apache edition', () => {
    const m = { ...base, fingerprint: { ...base.fingerprint, continuousAggregates: { metrics_hourly: { materializedOnly: false, materializedRows: 10 } } } };
    expect(message(() => assertRestorable(m, { ...server, edition: 'apache' }))).toBe(`backup ${id} uses continuous aggregates or policies of TimescaleDB's community edition, but the server at postgres://postgres@db:5432/postgres runs the Apache-2 edition: restore it on a server with the community edition (the timescale/timescaledb images); nothing was changed`);
  });
});
