import { describe, expect, test } from 'vitest';
import { baseRestoreArgs, restoreFailure, splitDataEntries } from '../../ops/lib/targets/server/pgRestore.js';
import { isBackupFault } from '../../ops/lib/targets/restoreSite.js';
import { dockerRestoreCommand } from '../../ops/lib/targets/docker/tools.js';

const toc = `;
; Archive created at 2026-11-25 06:26:08 UTC
;
2; 3079 16385 EXTENSION - timescaledb
277; 1259 17137 TABLE public m postgres
3742; 0 16407 TABLE DATA _timescaledb_catalog hypertable postgres
3756; 0 16556 TABLE DATA _timescaledb_config bgw_job postgres
4072; 0 17187 TABLE DATA _timescaledb_internal _hyper_1_10_chunk postgres
4075; 0 17198 TABLE DATA public d postgres
4092; 0 0 SEQUENCE SET public d_id_seq postgres
3902; 2606 17205 CONSTRAINT public d d_pkey postgres
`;

describe('pg_restore', () => {
  test('the TimescaleDB catalog rows are kept apart for the one-job pass', () => {
    const { catalog, other } = splitDataEntries(toc);
    expect(catalog).toEqual(['3742; 0 16407 TABLE DATA _timescaledb_catalog hypertable postgres', '3756; 0 16556 TABLE DATA _timescaledb_config bgw_job postgres']);
    expect(other).toHaveLength(6);
    expect(other.some((l) => l.includes('_timescaledb_catalog'))).toBe(false);
  });

  test('arguments: first error stops it, the database as a quoted libpq value, no password prompt', () => {
    expect(baseRestoreArgs(`my "db"`)).toEqual(['--exit-on-error', '--no-password', `--dbname=dbname='my "db"'`]);
  });

  test.each([
    ['pg_restore: error: could not execute query: ERROR:  could not extend file "base/16384/17000": No space left on device', "the disk holding the database server's data filled up during the restore (could not execute query: ERROR:  could not extend file \"base/16384/17000\": No space left on device): free space there (the restore needs about the database's size again), then run it again", false],
    ['pg_restore: error: could not execute query: server closed the connection unexpectedly', 'the server closed the connection during the restore (was it stopped or restarted?): could not execute query: server closed the connection unexpectedly', false],
    ['pg_restore: error: could not execute query: ERROR:  role "aetherlens_app" does not exist', 'the dump grants rights to role "aetherlens_app", which does not exist on this server: create it first (CREATE ROLE "aetherlens_app" NOLOGIN), then run the restore again', false],
    ['pg_restore: error: did not find magic string in file header', 'pg_restore cannot read the dump (did not find magic string in file header): the file is damaged; use another backup', true],
    ['pg_restore: error: could not read input file: end of file', 'pg_restore cannot read the dump (could not read input file: end of file): the file is damaged; use another backup', true],
    ['pg_restore: error: could not execute query: ERROR:  relation "x" already exists', 'pg_restore failed (exit 1): could not execute query: ERROR:  relation "x" already exists', true],
  ])('%s', (stderr, message, backupFault) => {
    const error = restoreFailure({ exitCode: 1, stdout: '', stderr }, 'pg_restore');
    expect(error.message).toBe(message);
    expect(isBackupFault(error)).toBe(backupFault);
  });

  test('docker: pg_restore inside the container, dump on stdin, secrets named but never valued in argv', () => {
    const c = dockerRestoreCommand('aetherlens-db', { host: '127.0.0.1', port: 5432, user: 'postgres', password: 's3cret-pw', database: 'aetherlens' }, baseRestoreArgs('aetherlens_restore_20261120_100005'), 'run-1');
    expect(c.command).toBe('docker');
    expect(c.args).toEqual(['exec', '-i', '-e', 'PGUSER', '-e', 'PGDATABASE', '-e', 'PGPASSWORD', '-e', 'AETHERLENS_DB_EXEC_ID', 'aetherlens-db', 'pg_restore', '--exit-on-error', '--no-password', `--dbname=dbname='aetherlens_restore_20261120_100005'`]);
    expect(c.args.join(' ')).not.toContain('s3cret-pw');
    // The run's marker: an abort or failure stops this pg_restore inside the container too.
    expect(c.env).toEqual({ PGUSER: 'postgres', PGDATABASE: 'aetherlens', PGPASSWORD: 's3cret-pw', AETHERLENS_DB_EXEC_ID: 'run-1' });
  });
});
