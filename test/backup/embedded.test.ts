import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { backup, compareFingerprints, hashFile, isOpsError, pgliteSqlClient, takeFingerprint, type Target } from '../../ops/lib/index.js';
import { acquireLock } from '../../ops/lib/fileLock.js';
import { embeddedPaths } from '../../ops/lib/embedded/layout.js';
import { openEmbeddedTarget, type EmbeddedTarget } from '../../ops/lib/targets/embedded/target.js';
import { snapshotDir } from './support.js';

describe('backup of the embedded engine (PGlite + TimescaleDB community edition)', () => {
  let root: string;
  let target: EmbeddedTarget;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-embedded-backup-'));
    target = await openEmbeddedTarget({ dataDir: join(root, 'data'), command: 'test' });
    await target.engine!.db.exec(`
      CREATE EXTENSION IF NOT EXISTS timescaledb;
      CREATE TABLE devices (id int PRIMARY KEY, name text);
      INSERT INTO devices VALUES (1, 'shelly-office-01'), (2, 'tp-link-living-room'), (3, 'solar-inverter-01');
      CREATE TABLE metrics (time timestamptz NOT NULL, device_id int REFERENCES devices (id), power float8);
      SELECT create_hypertable('metrics', 'time', chunk_time_interval => interval '7 days');
      INSERT INTO metrics SELECT t, d, random() * 100 FROM generate_series(now() - interval '21 days', now(), interval '5 minutes') t, generate_series(1, 3) d;
      ALTER TABLE metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id', timescaledb.compress_orderby = 'time DESC');
      SELECT compress_chunk(c) FROM show_chunks('metrics', older_than => interval '8 days') c;
      CREATE MATERIALIZED VIEW metrics_hourly WITH (timescaledb.continuous) AS
        SELECT time_bucket('1 hour', time) AS bucket, device_id, avg(power) AS power FROM metrics GROUP BY 1, 2 WITH NO DATA;`);
    // Not in a transaction block: exec() sends several statements as one implicit transaction.
    await target.engine!.db.exec(`CALL refresh_continuous_aggregate('metrics_hourly', NULL, NULL)`);
    await target.engine!.db.exec(`
      SELECT add_continuous_aggregate_policy('metrics_hourly', start_offset => interval '3 days', end_offset => interval '1 hour', schedule_interval => interval '1 hour');`);
  });
  afterAll(async () => {
    await target?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('dumps in-process, with a fingerprint of compressed chunks, aggregates and jobs', async () => {
    const dir = join(root, 'backups');
    const db = target.engine!.db;
    const sessionSettings = async () => (await db.query(`SELECT name, setting FROM pg_settings WHERE source = 'session' ORDER BY 1`)).rows;
    const settingsBefore = await sessionSettings();
    const result = await backup({ target, dir });
    const m = result.manifest;
    expect(result.id).toMatch(/^\d{8}T\d{6}Z-embedded$/);
    expect(await readdir(result.path)).toEqual(['embedded.sql.gz', 'manifest.json']);
    expect(m).toMatchObject({
      target: { kind: 'embedded', label: `embedded ${join(root, 'data')}` },
      versions: { server: '17.5', pgDump: '17.5', pgDumpAt: expect.stringMatching(/^in-process \(@electric-sql\/pglite-tools \d+\.\d+\.\d+\)$/), edition: 'timescale' },
      dump: { file: 'embedded.sql.gz', format: 'sql-gzip', compression: 'gzip level 1' },
      notices: {},
    });
    expect(await hashFile(result.dumpPath)).toEqual({ sha256: m.dump.sha256, bytes: m.dump.bytes });

    // The session pg_dump borrowed is back as it was: no transaction, no settings of pg_dump's.
    expect((await db.query<{ v: string }>(`SELECT current_setting('restrict_nonsystem_relation_kind') AS v`)).rows[0]!.v).toBe('');
    expect(await sessionSettings()).toEqual(settingsBefore);
    await db.exec('BEGIN ISOLATION LEVEL SERIALIZABLE; COMMIT'); // fails inside a leftover transaction
    const now = await takeFingerprint(pgliteSqlClient(db));
    expect(compareFingerprints(m.fingerprint, now)).toEqual([]);
    const chunks = m.fingerprint.hypertables.metrics!.chunks;
    expect(Object.values(chunks).reduce((n, c) => n + c.rows, 0)).toBe(3 * (21 * 288 + 1));
    const compressed = (await target.engine!.db.query<{ chunk_name: string }>(`SELECT chunk_name FROM timescaledb_information.chunks WHERE is_compressed`)).rows.map((r) => r.chunk_name);
    expect(compressed.length).toBeGreaterThan(0);
    for (const chunk of compressed) expect(chunks[chunk]!.rows).toBeGreaterThan(0); // compressed rows are counted, not skipped
    expect(m.fingerprint.continuousAggregates.metrics_hourly!.materializedRows).toBeGreaterThan(0);
    expect(Object.values(m.fingerprint.jobs).map((j) => `${j.proc} ${j.relation}`)).toContain('policy_refresh_continuous_aggregate metrics_hourly');

    const sql = gunzipSync(await readFile(result.dumpPath)).toString('utf8');
    expect(sql).toContain('CREATE TABLE public.metrics');
    expect(sql).toMatch(/INSERT INTO public\.devices VALUES\n\t\(1, 'shelly-office-01'\),\n\t\(2, /); // multi-row INSERTs
  });

  it('refuses a dump that a write slipped into: fingerprints before and after differ', async () => {
    const dir = join(root, 'raced');
    // A client of the engine's socket writing between two of our statements, played by SQL run
    // right after the dump.
    const racing: Target = {
      ...target,
      openDumpSession: async () => {
        const session = await target.openDumpSession();
        return { ...session, client: session.client, consistency: session.consistency, format: session.format, close: () => session.close(),
          dump: async (options) => {
            const outcome = await session.dump(options);
            await target.engine!.db.exec(`INSERT INTO devices VALUES (4, 'late-arrival')`);
            return outcome;
          } };
      },
    };
    const error = await backup({ target: racing, dir }).catch((e: unknown) => e);
    expect(isOpsError(error) && error.message).toBe('backup failed: the database changed while it was being dumped (table devices: row count 3 → 4): something wrote to it through the embedded server\'s socket; run the backup again; the partial backup was removed and older backups are untouched');
    expect(await snapshotDir(dir)).toEqual({});
  });

  it('refuses while `local serve` holds the database, and writes nothing', async () => {
    const served = join(root, 'served');
    const lock = await acquireLock(embeddedPaths(served).lock, { command: 'local serve', details: { port: 5999, database: 'template1' }, describe: () => 'held' });
    try {
      const servedTarget = await openEmbeddedTarget({ dataDir: served, command: 'backup' });
      const dir = join(root, 'served-backups');
      const error = await backup({ target: servedTarget, dir }).catch((e: unknown) => e);
      expect(isOpsError(error) && error.message).toBe(`the embedded database ${served} is served by pid ${process.pid} (local serve, 127.0.0.1:5999): a backup needs the engine in this process, so stop that server first (aetherlens-db local stop) and run the backup again`);
      expect(await snapshotDir(dir)).toEqual({ });
    } finally {
      await lock.release();
    }
  });
});
