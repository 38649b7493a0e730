// SIGTERM while an embedded restore loads its dump. The engine ran on the main thread: the signal
// was handled only after the statement running ended, so a restore of a big dump could not be
// stopped, and systemd's SIGKILL left the scratch directory behind.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { migrate, type Manifest } from '../../ops/lib/index.js';
import { embeddedPaths } from '../../ops/lib/embedded/layout.js';
import { lockHolder } from '../../ops/lib/fileLock.js';
import { CLI, runCli } from '../support/cli.js';
import { withEmbedded } from './support.js';

const siblings = async (dataDir: string) => (await readdir(dirname(dataDir))).filter((n) => n.startsWith(`${basename(dataDir)}.`)).sort();

describe('SIGTERM during an embedded restore', () => {
  let root: string;
  let dataDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-restore-sigterm-'));
    dataDir = join(root, 'db');
    env = { AETHERLENS_EMBEDDED_DIR: dataDir, AETHERLENS_BACKUP_DIR: join(root, 'backups') };
    await withEmbedded(dataDir, async (t) => {
      await migrate({ target: t });
      await t.engine!.db.exec(`INSERT INTO devices (device_id, name, device_type) VALUES ('probe-1', 'probe', 'smart_plug')`);
    });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('stops within seconds with one line; the scratch directory is gone and the live database unchanged', async () => {
    const made = await runCli(['backup', '--json'], env);
    expect(made.exitCode, made.stderr).toBe(0);
    const manifest = (JSON.parse(made.stdout) as { manifest: Manifest }).manifest;
    // A statement that runs for a minute inside the dump, as a large table's INSERTs would.
    const folder = join(env.AETHERLENS_BACKUP_DIR!, manifest.id);
    const dumpPath = join(folder, manifest.dump.file);
    const slow = gzipSync(Buffer.concat([Buffer.from('SELECT pg_sleep(60);\n'), gunzipSync(await readFile(dumpPath))]));
    await writeFile(dumpPath, slow);
    const edited = { ...manifest, dump: { ...manifest.dump, bytes: slow.length, sha256: createHash('sha256').update(slow).digest('hex') } };
    await writeFile(join(folder, 'manifest.json'), JSON.stringify(edited, null, 2));
    await withEmbedded(dataDir, (t) => t.engine!.db.exec(`DELETE FROM devices WHERE device_id = 'probe-1'`));

    const child = execa(process.execPath, [CLI, 'restore', manifest.id, '--yes'], { env, reject: false, forceKillAfterDelay: false });
    let err = '';
    await new Promise<void>((ok, fail) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        err += chunk.toString();
        if (/restoring \S+ into /.test(err)) ok();
      });
      void child.then((r) => fail(new Error(`restore ended before loading: ${r.stderr}`)));
    });
    await new Promise((r) => setTimeout(r, 2_000));
    const sent = performance.now();
    child.kill('SIGTERM');
    const ended = await child;
    const seconds = (performance.now() - sent) / 1000;

    // Within 2 s on an idle machine; the bound leaves room for a loaded CI, far below the 60 s.
    expect(seconds).toBeLessThan(8);
    expect(ended.exitCode).not.toBe(0);
    const errors = ended.stderr.split('\n').filter((l) => l.startsWith('error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/interrupted/);
    expect(ended.stderr).not.toMatch(/\n\s+at /);
    expect(await siblings(dataDir)).toEqual([]);
    expect(await lockHolder(embeddedPaths(dataDir).lock)).toBeUndefined();
    const devices = await withEmbedded(dataDir, async (t) => (await t.engine!.db.query<{ id: string }>(`SELECT device_id AS id FROM devices`)).rows);
    expect(devices).toEqual([]);
  });
});
