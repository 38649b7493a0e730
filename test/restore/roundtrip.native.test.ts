import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { acquireBackupLock, compareFingerprints, describeConnection, migrate, type Manifest } from '../../ops/lib/index.js';
import { connectionUrl } from '../../ops/lib/connection.js';
import { connect, quoteIdent, withClient } from '../../ops/lib/pg.js';
import { execa } from 'execa';
import { CLI, runCli } from '../support/cli.js';
import { nativeUnavailableReason, PG_BIN, startNativeCluster, type NativeCluster } from '../support/nativeCluster.js';
import { addReadings, databases, fingerprintOf, seededServerDatabase } from './support.js';
import { serverTargetOf } from '../support/targets.js';

const unavailable = nativeUnavailableReason();
if (unavailable) console.warn(`skipping native restore tests: ${unavailable}`);

/** Migrate (community edition), seed, backup, drill, change data, restore, compare, roll back: on a real server. */
describe.skipIf(unavailable)('restore round trip on a native server', () => {
  let cluster: NativeCluster;
  let dir: string;
  let env: Record<string, string>;
  let first: Manifest;

  const manifestOf = async (id: string): Promise<Manifest> => JSON.parse(await readFile(join(dir, id, 'manifest.json'), 'utf8')) as Manifest;
  const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { ...env, ...extra });

  beforeAll(async () => {
    cluster = await startNativeCluster();
    dir = await mkdtemp(join(tmpdir(), 'aetherlens-restore-rt-'));
    env = { DATABASE_URL: cluster.url, AETHERLENS_BACKUP_DIR: dir, PG_BIN_DIR: PG_BIN };
    await seededServerDatabase(cluster.info);
    // Readings a month old, compressed as the compression policy would: the backup carries
    // compressed chunks, continuous aggregates with rows and the policy jobs.
    await addReadings(cluster.info, 30_000);
    await withClient(cluster.info, (c) => c.query(`SELECT compress_chunk(c) FROM show_chunks('metrics', older_than => interval '7 days') c`));
  });
  afterAll(async () => {
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('backup, then verify: the drill passes, is recorded in the manifest, and leaves no scratch database', async () => {
    const made = await cli(['backup', '--json']);
    expect(made.exitCode).toBe(0);
    first = (JSON.parse(made.stdout) as { manifest: Manifest }).manifest;

    const verify = await cli(['verify', first.id]);
    expect(verify.stderr).toBe(`checking the sha256 of ${first.id}\nrestoring ${first.id} into ${verify.stderr.match(/aetherlens_drill_\d{8}_\d{6}/)![0]}\n${verify.stderr.split('\n')[2]}`);
    expect(verify.exitCode).toBe(0);
    const lines = verify.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^verify ${first.id} \\(\\d+ kB\\): PASSED$`));
    expect(lines.slice(1, 8).map((l) => l.slice(0, 29))).toEqual([
      '  ok    checksum             ',
      '  ok    fingerprint          ',
      '  ok    migrations           ',
      '  ok    jobs                 ',
      '  ok    continuous aggregates',
      '  ok    restoring mode       ',
      '  ok    refresh              ',
    ]);
    // Something to check: the four aggregates hold rows (their materialization hypertables are
    // the four beyond metrics and cost_calculations), and the twelve policies are jobs.
    const { continuousAggregates, jobs } = first.fingerprint;
    expect(Object.keys(continuousAggregates).sort()).toEqual(['cost_daily', 'cost_hourly', 'metrics_daily', 'metrics_hourly']);
    expect(Object.values(continuousAggregates).every((a) => a.materializedRows > 0)).toBe(true);
    expect(Object.values(jobs).filter((j) => j.relation !== null)).toHaveLength(12);
    expect(lines[2]).toMatch(/^ {2}ok {4}fingerprint {11}7 tables and 6 hypertables \(\d+ chunks\) match the backup$/);
    expect(lines[3]).toBe('  ok    migrations            migration head 6, as in the backup');
    expect(lines[4]).toBe(`  ok    jobs                  ${Object.keys(jobs).length} jobs present and scheduled`);
    expect(lines[5]).toBe('  ok    continuous aggregates 4 present');
    expect(lines[7]).toMatch(/^ {2}ok {4}refresh {15}4 refreshed completely in \d+\.\d s$/);
    // formatSeconds: one decimal below 10 s, whole seconds from 10 s.
    expect(lines[8]).toMatch(/^RTO: restored in \d+(\.\d)? s \(the whole drill took \d+(\.\d)? s\)$/);
    expect(lines[9]).toMatch(/^RPO: the backup is \d+s old; its newest data was .+ old when it was taken$/);

    const verification = (await manifestOf(first.id)).verification!;
    expect(verification).toMatchObject({ result: 'passed', differences: [], restoredOn: 'server' });
    expect(verification.restoreSeconds).toBeGreaterThan(0);
    expect(await databases(cluster.info)).toEqual(['aetherlens']);
  });

  test('without a terminal and without --yes a restore is refused before anything happens', async () => {
    const r = await cli(['restore']);
    expect(r).toMatchObject({ exitCode: 2, stdout: '', stderr: 'error: restore replaces the live database and asks for confirmation first: run it in a terminal, or pass --yes' });
  });

  test('a running backup holds the lock: the restore refuses and says who holds it', async () => {
    const lock = await acquireBackupLock(dir, { kind: 'server', label: describeConnection(cluster.info) });
    try {
      const r = await cli(['restore', '--yes']);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toBe(`error: a backup of this database is running (pid ${process.pid}, since ${lock.owner.since}): wait for it to finish, then run the restore again; nothing was changed`);
    } finally {
      await lock.release();
    }
    expect(await databases(cluster.info)).toEqual(['aetherlens']);
  });

  test('change the data, restore the newest verified backup: the data equals the backup, the old database is kept, rollback works', async () => {
    // A newer backup that was never drilled: a restore without a name must not pick it.
    expect((await cli(['backup'])).exitCode).toBe(0);
    await withClient(cluster.info, async (c) => {
      await c.query(`DELETE FROM metrics WHERE time > now() - interval '1 day'`);
      await c.query(`UPDATE devices SET name = 'renamed by mistake'`);
    });
    // What a dump does not carry but the database had: settings, comment, privileges.
    const dbSettings = `SELECT d.datname, s.setconfig, shobj_description(d.oid, 'pg_database') AS comment, d.datacl::text AS acl
      FROM pg_database d LEFT JOIN pg_db_role_setting s ON s.setdatabase = d.oid AND s.setrole = 0 WHERE d.datname = 'aetherlens'`;
    const settingsBefore = await withClient(cluster.info, async (c) => {
      await c.query(`ALTER DATABASE aetherlens SET statement_timeout = '45s'`);
      await c.query(`ALTER DATABASE aetherlens SET search_path = "$user", public, "odd schema"`);
      await c.query(`COMMENT ON DATABASE aetherlens IS 'production; do not drop'`);
      await c.query('REVOKE ALL ON DATABASE aetherlens FROM PUBLIC');
      await c.query('GRANT CONNECT ON DATABASE aetherlens TO aetherlens_readonly');
      return (await c.query(dbSettings)).rows[0];
    }, 'postgres');
    const changed = await fingerprintOf(cluster.info);
    expect(compareFingerprints(first.fingerprint, changed).length).toBeGreaterThan(0);

    const r = await cli(['restore', '--yes', '--json']);
    expect(r.exitCode).toBe(0);
    const report = JSON.parse(r.stdout) as { backup: { id: string }; live: string; swap: { previous: string; rollback: string[]; drop: string[]; stepsWhere: string } };
    expect(report.backup.id).toBe(first.id);
    expect(report.live).toBe('aetherlens');
    expect(report.swap.previous).toMatch(/^aetherlens_pre_restore_\d{8}_\d{6}$/);
    expect(report.swap.stepsWhere).toBe(`in psql connected to the postgres database (psql "postgres://postgres@127.0.0.1:${cluster.port}/postgres" with PGPASSWORD set)`);
    const stamp = report.swap.previous.slice(-15);
    expect(report.swap.rollback).toEqual([
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN ('aetherlens', '${report.swap.previous}');`,
      `ALTER DATABASE "aetherlens" RENAME TO "aetherlens_restored_${stamp}";`,
      `ALTER DATABASE "${report.swap.previous}" RENAME TO "aetherlens";`,
    ]);
    expect(report.swap.drop).toEqual([`DROP DATABASE "${report.swap.previous}" WITH (FORCE);`]);
    // The confirmation summary went to stderr: backup against live row counts.
    expect(r.stderr).toMatch(/\n {2}devices\s+3\s+3\n/);

    expect(compareFingerprints(first.fingerprint, await fingerprintOf(cluster.info))).toEqual([]);
    const compressed = await withClient(cluster.info, async (c) => (await c.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM timescaledb_information.chunks WHERE hypertable_name = 'metrics' AND is_compressed`)).rows[0]!.n);
    expect(compressed).toBeGreaterThan(0);
    expect(compareFingerprints(changed, await fingerprintOf(cluster.info, report.swap.previous))).toEqual([]);
    const settingsAfter = await withClient(cluster.info, async (c) => (await c.query(dbSettings)).rows[0], 'postgres');
    expect(settingsAfter).toEqual(settingsBefore);
    expect(await databases(cluster.info)).toEqual(['aetherlens', report.swap.previous]);

    // Roll back exactly as printed: the changed database answers as "aetherlens" again.
    await withClient(cluster.info, async (c) => {
      for (const statement of report.swap.rollback) await c.query(statement);
    }, 'postgres');
    expect(compareFingerprints(changed, await fingerprintOf(cluster.info))).toEqual([]);
    expect(await databases(cluster.info)).toEqual(['aetherlens', `aetherlens_restored_${stamp}`]);
    // ... and forward again, then drop the kept one as printed.
    await withClient(cluster.info, async (c) => {
      await c.query(`ALTER DATABASE "aetherlens" RENAME TO ${quoteIdent(report.swap.previous)}`);
      await c.query(`ALTER DATABASE ${quoteIdent(`aetherlens_restored_${stamp}`)} RENAME TO "aetherlens"`);
      for (const statement of report.swap.drop) await c.query(statement);
    }, 'postgres');
    expect(await databases(cluster.info)).toEqual(['aetherlens']);
    expect(compareFingerprints(first.fingerprint, await fingerprintOf(cluster.info))).toEqual([]);
  });

  test('sessions on the live database: refused without --force; with --force listed, then ended', async () => {
    const app = await connect({ ...cluster.info });
    await app.query(`SET application_name = 'dashboard'`);
    const pid = (await app.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    try {
      const refused = await cli(['restore', '--yes']);
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr.split('\n').at(-1)).toBe(`error: restore refused: 1 session(s) are connected to "aetherlens": pid ${pid} (dashboard as postgres from 127.0.0.1/32, idle); stop the application, or run again with --force to end them; the live database was not changed`);
      expect(await databases(cluster.info)).toEqual(['aetherlens']);

      const forced = await cli(['restore', '--yes', '--force']);
      expect(forced.exitCode).toBe(0);
      expect(forced.stderr).toContain(`warning: ending 1 session(s) on "aetherlens": pid ${pid} (dashboard as postgres from 127.0.0.1/32, idle)`);
      expect(forced.stdout.split('\n')[1]).toBe(`ended 1 session(s): pid ${pid} (dashboard as postgres from 127.0.0.1/32, idle)`);
      await expect(app.query('SELECT 1')).rejects.toThrow();
    } finally {
      await app.end().catch(() => {});
    }
    const kept = (await databases(cluster.info)).filter((d) => d !== 'aetherlens');
    expect(kept).toHaveLength(1);
    await withClient(cluster.info, (c) => c.query(`DROP DATABASE ${quoteIdent(kept[0]!)}`), 'postgres');
  });

  test('in a terminal: the summary is shown and the swap asked for; "n" cancels and removes the copy, "y" swaps', async () => {
    // script(1) gives the CLI a pseudo-terminal, as a person at a shell has.
    const interactive = (answer: string) => execa('script', ['-qec', `${process.execPath} ${CLI} restore ${first.id}`, '/dev/null'], {
      input: `${answer}\n`, env: { ...env, PATH: process.env.PATH }, extendEnv: false, reject: false, timeout: 120_000,
    });
    const no = await interactive('n');
    const noOut = String(no.stdout).replace(/\r/g, '');
    expect(no.exitCode).toBe(1);
    expect(noOut).toMatch(/\n {2}table +backup rows +live rows\n/);
    expect(noOut).toContain(`"aetherlens" will be replaced; it is kept as "aetherlens_pre_restore_`);
    expect(noOut).toContain('swap the restored copy in as "aetherlens" now? [y/N] ');
    expect(noOut.trimEnd().split('\n').at(-1)).toBe('error: restore cancelled: nothing was changed (the restored copy was removed)');
    expect(await databases(cluster.info)).toEqual(['aetherlens']);

    const yes = await interactive('y');
    expect(yes.exitCode).toBe(0);
    expect(String(yes.stdout)).toContain(`restored backup ${first.id}`);
    const kept = (await databases(cluster.info)).filter((d) => d !== 'aetherlens');
    expect(kept).toEqual([expect.stringMatching(/^aetherlens_pre_restore_\d{8}_\d{6}$/)]);
    await withClient(cluster.info, (c) => c.query(`DROP DATABASE ${quoteIdent(kept[0]!)}`), 'postgres');
  });

  test('names with quotes, spaces and SQL in them are handled as names, never executed', async () => {
    const odd = `we"ird name'; DROP DATABASE aetherlens; --`;
    const into = await cli(['restore', first.id, '--yes', '--into', odd]);
    expect(into.exitCode).toBe(0);
    expect(into.stdout.split('\n')[0]).toMatch(new RegExp(`^restored backup ${first.id} \\(taken .+\\) into "we"ird name'; DROP DATABASE aetherlens; --" in `));
    expect(await databases(cluster.info)).toEqual(['aetherlens', odd]);
    expect(compareFingerprints(first.fingerprint, await fingerprintOf(cluster.info, odd))).toEqual([]);
    await withClient(cluster.info, (c) => c.query(`DROP DATABASE ${quoteIdent(odd)}`), 'postgres');

    // The live database itself oddly named: backup, drill and a swap that keeps it.
    const live = `my "live" db`;
    await withClient(cluster.info, (c) => c.query(`CREATE DATABASE ${quoteIdent(live)}`), 'postgres');
    await migrate({ target: await serverTargetOf({ ...cluster.info, database: live }), to: 2 });
    const oddEnv = { DATABASE_URL: connectionUrl(cluster.info, live), AETHERLENS_BACKUP_DIR: join(dir, 'odd') };
    expect((await cli(['backup'], oddEnv)).exitCode).toBe(0);
    const verify = await cli(['verify', '--latest'], oddEnv);
    expect(verify.exitCode).toBe(0);
    expect(verify.stderr).toMatch(/restoring \S+ into my "live" db_drill_\d{8}_\d{6}/);
    const swapped = await cli(['restore', '--yes'], oddEnv);
    expect(swapped.exitCode).toBe(0);
    const previous = (await databases(cluster.info)).find((d) => d.startsWith(`${live}_pre_restore_`));
    expect(previous).toMatch(/^my "live" db_pre_restore_\d{8}_\d{6}$/);
    expect(swapped.stdout).toContain(`  ALTER DATABASE "my ""live"" db" RENAME TO "my ""live"" db_restored_${previous!.slice(-15)}";`);
    for (const name of [live, previous!]) await withClient(cluster.info, (c) => c.query(`DROP DATABASE ${quoteIdent(name)}`), 'postgres');
    expect(await databases(cluster.info)).toEqual(['aetherlens']);
  });

  test('disaster recovery onto a new server: the missing roles are named first; then the database is restored under its name', async () => {
    const fresh = await startNativeCluster();
    try {
      await withClient(fresh.info, (c) => c.query('DROP DATABASE aetherlens'), 'postgres');
      const freshEnv = { DATABASE_URL: fresh.url };
      const refused = await cli(['restore', first.id, '--yes'], freshEnv);
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toBe(`error: the backup's objects belong or are granted to role(s) this server does not have (aetherlens_app, aetherlens_backup, aetherlens_readonly): create them first (in psql: CREATE ROLE "aetherlens_app" NOLOGIN; CREATE ROLE "aetherlens_backup" NOLOGIN; CREATE ROLE "aetherlens_readonly" NOLOGIN;), then run it again; nothing was changed`);
      expect(await databases(fresh.info)).toEqual([]);

      await withClient(fresh.info, (c) => c.query('CREATE ROLE "aetherlens_app" NOLOGIN; CREATE ROLE "aetherlens_backup" NOLOGIN; CREATE ROLE "aetherlens_readonly" NOLOGIN;'), 'postgres');
      const restored = await cli(['restore', first.id, '--yes'], freshEnv);
      expect(restored.exitCode).toBe(0);
      expect(restored.stdout).toBe(restored.stdout.split('\n')[0]);
      expect(restored.stdout).toMatch(new RegExp(`^restored backup ${first.id} \\(taken .+\\) into "aetherlens" in .+$`));
      expect(restored.stderr).toContain('"aetherlens" does not exist yet; the backup will be restored under that name');
      expect(await databases(fresh.info)).toEqual(['aetherlens']);
      expect(compareFingerprints(first.fingerprint, await fingerprintOf(fresh.info))).toEqual([]);
    } finally {
      await fresh.stop();
    }
  });
});
