import { execSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compareFingerprints, migrate, pgliteSqlClient, runDueJobs, seed, silentLogger, takeFingerprint, type Manifest } from '../../ops/lib/index.js';
import { runCli } from '../support/cli.js';
import { freePort } from '../support/nativeCluster.js';
import { serveCli } from '../support/serveCli.js';
import { ADMIN_PASSWORD, embeddedFingerprintOf as fingerprintOf, withEmbedded } from './support.js';

const siblings = async (dataDir: string) => (await readdir(dirname(dataDir))).filter((n) => n.startsWith(`${basename(dataDir)}.`)).sort();

/**
 * The embedded target end to end, through the real CLI: migrate (all six, community features),
 * seed, run the policy jobs (compressed chunks, refreshed aggregates), backup, drill into a scratch
 * data directory, change data, restore beside the live directory, swap, roll back.
 */
describe('restore round trip on the embedded target', () => {
  let root: string;
  let dataDir: string;
  let env: Record<string, string>;
  let manifest: Manifest;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-restore-emb-'));
    dataDir = join(root, 'db');
    env = { AETHERLENS_EMBEDDED_DIR: dataDir, AETHERLENS_BACKUP_DIR: join(root, 'backups') };
    await withEmbedded(dataDir, async (t) => {
      await migrate({ target: t });
      await seed(t, { days: 14, interval: '5m', seed: 3, adminPassword: ADMIN_PASSWORD }, silentLogger);
      await runDueJobs(t.connection, { all: true });
      const compressed = await t.engine!.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM timescaledb_information.chunks WHERE is_compressed`);
      expect(compressed.rows[0]!.n).toBeGreaterThan(0);
    });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('backup, then verify in a scratch data directory: passes with every check, and the scratch directory is gone', async () => {
    const made = await runCli(['backup', '--json'], env);
    expect(made.exitCode).toBe(0);
    manifest = (JSON.parse(made.stdout) as { manifest: Manifest }).manifest;
    expect(Object.keys(manifest.fingerprint.continuousAggregates)).toHaveLength(4);

    const verify = await runCli(['verify'], env);
    expect(verify.exitCode).toBe(0);
    expect(verify.stderr.split('\n')[1]).toMatch(new RegExp(`^restoring ${manifest.id} into ${dataDir}\\.drill_\\d{8}_\\d{6}$`));
    const lines = verify.stdout.split('\n');
    expect(lines[0]).toMatch(/: PASSED$/);
    expect(lines.slice(1, 8).every((l) => l.startsWith('  ok '))).toBe(true);
    expect(lines[4]).toBe(`  ok    jobs                  ${Object.keys(manifest.fingerprint.jobs).length} jobs present and scheduled`);
    expect(lines[5]).toBe('  ok    continuous aggregates 4 present');
    expect(lines[7]).toMatch(/^ {2}ok {4}refresh {15}4 refreshed completely in \d+\.\d s$/);
    expect(await siblings(dataDir)).toEqual([]);
  });

  test('change the data, restore: equal to the backup, the previous directory kept, and the printed rollback works', async () => {
    const changed = await withEmbedded(dataDir, async (t) => {
      await t.engine!.db.exec(`DELETE FROM metrics WHERE time > now() - interval '2 days'; UPDATE devices SET name = 'renamed by mistake';`);
      return takeFingerprint(pgliteSqlClient(t.engine!.db));
    });
    expect(compareFingerprints(manifest.fingerprint, changed).length).toBeGreaterThan(0);

    const r = await runCli(['restore', '--yes', '--json'], env);
    expect(r.exitCode).toBe(0);
    const report = JSON.parse(r.stdout) as { live: string; swap: { previous: string; rollback: string[]; drop: string[]; stepsWhere: string } };
    // The data directory stays; the restored PGDATA is named in its pointer file, the previous one kept beside it.
    const restored = (await readFile(join(dataDir, 'current'), 'utf8')).trim();
    expect(restored).toMatch(/^pgdata\.\d{8}_\d{6}$/);
    expect(report.live).toBe(dataDir);
    expect(report.swap).toMatchObject({
      previous: `${dataDir}/pgdata`,
      stepsWhere: 'in a shell, with nothing using the embedded database (aetherlens-db local stop)',
      rollback: [`printf '%s\\n' 'pgdata' > '${dataDir}/current.rollback' && mv -f '${dataDir}/current.rollback' '${dataDir}/current'`],
      drop: [`if grep -qxF '${restored}' '${dataDir}/current'; then rm -rf '${dataDir}/pgdata'; else echo '${dataDir}/pgdata is live (rolled back): not removed' >&2; fi`],
    });
    expect(r.stderr).toMatch(/\n {2}metrics\s+[\d,]+\s+[\d,]+\n/);
    expect(await siblings(dataDir)).toEqual([]);
    expect((await readdir(dataDir)).filter((n) => n.startsWith('pgdata')).sort()).toEqual(['pgdata', restored]);

    await withEmbedded(dataDir, async (t) => {
      const db = t.engine!.db;
      expect(compareFingerprints(manifest.fingerprint, await takeFingerprint(pgliteSqlClient(db)))).toEqual([]);
      expect((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM timescaledb_information.chunks WHERE is_compressed`)).rows[0]!.n).toBeGreaterThan(0);
      // The restored database works: the aggregates answer and new readings go in.
      expect((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM metrics_hourly`)).rows[0]!.n).toBeGreaterThan(0);
      await db.exec(`INSERT INTO metrics (time, device_id, power_deciwatts) SELECT now(), device_id, 1 FROM devices LIMIT 1`);
      await db.exec(`DELETE FROM metrics WHERE time > now() - interval '1 minute' AND power_deciwatts = 1`);
    });

    for (const step of report.swap.rollback) execSync(step);
    expect(compareFingerprints(changed, await fingerprintOf(dataDir))).toEqual([]);
    // Forward again, then drop the kept PGDATA as printed.
    execSync(`printf '%s\\n' '${restored}' > '${dataDir}/current'`);
    for (const step of report.swap.drop) execSync(step);
    expect(await siblings(dataDir)).toEqual([]);
    expect((await readdir(dataDir)).filter((n) => n.startsWith('pgdata'))).toEqual([restored]);
  });

  test('a restore is refused while `local serve` has the database open', async () => {
    const port = await freePort();
    const { child } = await serveCli(dataDir, port);
    try {
      const r = await runCli(['restore', '--yes'], env);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^error: the embedded database ${dataDir} is open in pid ${child.pid} \\(aetherlens-db local serve, since .+, serving 127\\.0\\.0\\.1:${port}\\): a restore replaces its data directory, so stop that first \\(aetherlens-db local stop\\), then run the restore again; nothing was changed$`));
    } finally {
      child.kill('SIGTERM');
      await child;
    }
    expect(await siblings(dataDir)).toEqual([]);
  });

  test('restore --into a directory that `local serve` holds is refused, naming it, and that database is untouched', async () => {
    const other = join(root, 'other');
    const port = await freePort();
    const { child } = await serveCli(other, port);
    try {
      const before = await readdir(other);
      const r = await runCli(['restore', '--yes', '--into', other], env);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^error: the embedded database ${other} is open in pid ${child.pid} \\(aetherlens-db local serve, since [^)]+\\): restore --into replaces that directory, so stop that first \\(aetherlens-db local stop --embedded-dir '${other}'\\), then run the restore again; nothing was changed$`));
      expect(await readdir(other)).toEqual(before);
      expect(await siblings(other)).toEqual([]);
    } finally {
      child.kill('SIGTERM');
      await child;
    }
    expect(await siblings(dataDir)).toEqual([]);
  });
});
