import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGunzip, createGzip } from 'node:zlib';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Manifest } from '../../ops/lib/index.js';
import { runCli } from '../support/cli.js';
import { withEmbedded } from './support.js';

const HARNESS = fileURLToPath(new URL('./bigDump.harness.ts', import.meta.url));

/** Past V8's longest string (2^29 - 24 characters, ~512 MB), which the whole-text restore could not hold. */
const TARGET_BYTES = 620 * 1024 * 1024;
/** One row's note: what a naive splitter trips on, stored as it is (standard strings: backslash is literal). */
const NOTE = `it''s; -- not a comment /* nor this; */ $$ nor $tag$ this; "quoted;" back\\slash; é☃🐘 `.repeat(6);
const NOTE_STORED = NOTE.replace(/''/g, "'");
const ROWS_PER_INSERT = 1000;

/** The real dump's SQL, then a big table as pg_dump writes one (1000-row INSERTs) owned by a role only it names, gzipped. */
async function writeBigDump(realDump: string, file: string): Promise<{ bytes: number; rows: number }> {
  const gzip = createGzip({ level: 1 });
  const written = pipeline(gzip, createWriteStream(file));
  let bytes = 0;
  const write = async (text: string | Buffer) => {
    bytes += Buffer.byteLength(text);
    if (!gzip.write(text)) await once(gzip, 'drain');
  };
  for await (const chunk of createReadStream(realDump).pipe(createGunzip())) await write(chunk as Buffer);
  await write(`\nCREATE TABLE public.archive (id bigint NOT NULL, device text, note text);\n\nALTER TABLE public.archive OWNER TO archive_owner;\n\n`);
  // An E'' string, whose backslashes escape: stored as dev-'e'; and a line break.
  await write(`INSERT INTO public.archive VALUES (0, E'dev-\\'e\\';', E'line\\nnext; $$');\n`);
  let rows = 0;
  while (bytes < TARGET_BYTES) {
    const values: string[] = [];
    for (let k = 0; k < ROWS_PER_INSERT; k++) {
      rows++;
      values.push(`\n\t(${rows}, 'dev-${rows % 50}', '${NOTE}')`);
    }
    await write(`INSERT INTO public.archive VALUES${values.join(',')};\n`);
  }
  await write(`\nGRANT SELECT ON TABLE public.archive TO app_reader;\n\n--\n-- PostgreSQL database dump complete\n--\n\n`);
  gzip.end();
  await written;
  return { bytes, rows };
}

interface HarnessResult {
  ok: boolean;
  seconds: number;
  restoreSeconds?: number;
  error?: string;
  row?: Record<string, unknown>;
  maxRss: number;
  vmHwm: number;
}

const MB = 1024 * 1024;

/**
 * A restore of an embedded dump bigger than any JavaScript string: the dump is streamed through
 * gunzip and the statement splitter into the engine in bounded batches. Run in a child process
 * (the drill's restoreCopy) whose peak memory is reported and bounded well below the dump's size.
 */
describe('an embedded dump of more than 600 MB of SQL', () => {
  let root: string;
  let dataDir: string;
  let manifestPath: string;
  let bigDump: string;
  let smallDump: string;
  let made: { bytes: number; rows: number };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-bigdump-'));
    dataDir = join(root, 'db');
    await withEmbedded(dataDir, (t) => t.engine!.db.exec(`
      CREATE ROLE app_reader NOLOGIN;
      CREATE TABLE devices (device_id text PRIMARY KEY, name text);
      INSERT INTO devices VALUES ('plug;01', 'Office ''Desk'' Plug'), ('lamp-02', 'Lamp $$ 2');
      CREATE TABLE metrics (time timestamptz NOT NULL, device_id text NOT NULL, power integer);
      SELECT create_hypertable('metrics', 'time', chunk_time_interval => interval '7 days');
      INSERT INTO metrics SELECT t, 'plug;01', (extract(epoch FROM t)::bigint % 5000)::int FROM generate_series(now() - interval '30 days', now(), interval '10 minutes') t;
      CREATE FUNCTION device_label(id text) RETURNS text LANGUAGE plpgsql AS $fn$ BEGIN RETURN 'device ' || id || '; done'; END $fn$;
      GRANT SELECT ON devices, metrics TO app_reader;`));
    const backups = join(root, 'backups');
    const r = await runCli(['backup', '--json'], { AETHERLENS_EMBEDDED_DIR: dataDir, AETHERLENS_BACKUP_DIR: backups });
    expect(r.exitCode, r.stderr).toBe(0);
    const manifest = (JSON.parse(r.stdout) as { manifest: Manifest }).manifest;
    manifestPath = join(root, 'manifest.json');
    await writeFile(manifestPath, JSON.stringify(manifest));
    bigDump = join(root, 'big.sql.gz');
    const started = performance.now();
    smallDump = join(backups, manifest.id, manifest.dump.file);
    made = await writeBigDump(smallDump, bigDump);
    console.log(`wrote ${(made.bytes / MB).toFixed(0)} MB of SQL (${made.rows} archive rows) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    expect(made.bytes).toBeGreaterThan(600 * MB);
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('restores completely, every row as written, with the roles it names; peak memory a fraction of the dump', async () => {
    const noteMd5 = createHash('md5').update(NOTE_STORED).digest('hex');
    const sql = `SELECT count(*)::int AS rows, sum(length(note))::text AS chars,
        count(*) FILTER (WHERE id > 0 AND md5(note) = '${noteMd5}')::int AS same,
        (SELECT device || '|' || note FROM public.archive WHERE id = 0) AS e_row,
        (SELECT tableowner::text FROM pg_tables WHERE tablename = 'archive') AS owner,
        has_table_privilege('app_reader', 'public.archive', 'SELECT') AS granted,
        (SELECT count(*)::int FROM public.metrics) AS metrics,
        (SELECT string_agg(name, ',' ORDER BY device_id) FROM public.devices) AS devices,
        public.device_label('x') AS label
      FROM public.archive`;
    const restoreIn = async (dump: string, query: string) => {
      const child = await execa(process.execPath, ['--import', 'tsx', HARNESS, dataDir, dump, manifestPath, query], { reject: false, timeout: 600_000 });
      expect(child.exitCode, child.stderr).toBe(0);
      return JSON.parse(child.stdout) as HarnessResult;
    };
    // What the engine itself takes: the same restore of the small real dump.
    const small = await restoreIn(smallDump, 'SELECT count(*)::int AS devices FROM public.devices');
    expect(small.row).toEqual({ devices: 2 });
    const result = await restoreIn(bigDump, sql);
    console.log(`restored ${(made.bytes / MB).toFixed(0)} MB of SQL in ${result.seconds.toFixed(1)} s; peak RSS ${(result.maxRss / MB).toFixed(0)} MB (VmHWM ${(result.vmHwm / MB).toFixed(0)} MB); the small dump's restore peaked at ${(small.maxRss / MB).toFixed(0)} MB`);
    expect(result.error).toBeUndefined();
    expect(result.row).toEqual({
      rows: made.rows + 1,
      chars: String(made.rows * [...NOTE_STORED].length + 'line\nnext; $$'.length),
      same: made.rows,
      e_row: `dev-'e';|line\nnext; $$`,
      owner: 'archive_owner',
      granted: true,
      metrics: expect.any(Number),
      devices: `Lamp $$ 2,Office 'Desk' Plug`,
      label: 'device x; done',
    });
    expect(result.row!.metrics).toBeGreaterThan(4000);
    // Bounded by the engine (its shared buffers fill up) and one batch, not by the dump.
    expect(result.maxRss - small.maxRss).toBeLessThan(made.bytes / 2);
    // The scratch copy was removed.
    expect((await readdir(root)).sort()).toEqual(['backups', 'big.sql.gz', 'db', 'manifest.json']);
  });
});
