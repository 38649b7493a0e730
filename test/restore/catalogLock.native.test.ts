// Issue 17, item 3: a drill (or restore) reading a backup and rotate, which deletes backups, hold
// the one catalog lock, shared and exclusive. Rotate refuses while a drill reads, naming it, and
// the drill passes; a drill that starts during a rotation waits for it.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { deleteFromCatalog, type Manifest } from '../../ops/lib/index.js';
import { runCli } from '../support/cli.js';
import { describeNative, PG_BIN, startNativeCluster, type NativeCluster } from '../support/nativeCluster.js';
import { seededServerDatabase, startCli, waitFor } from './support.js';

const KEEP_ONE = ['--keep-daily', '1', '--keep-weekly', '0', '--keep-monthly', '0'];

describeNative('rotate and drills share the catalog lock (native server)', () => {
  let cluster: NativeCluster;
  let dir: string;
  let env: Record<string, string>;
  let older: string;
  let newer: string;
  const cli = (args: string[]) => runCli(args, env, { timeoutMs: 180_000 });

  beforeAll(async () => {
    cluster = await startNativeCluster();
    dir = await mkdtemp(join(tmpdir(), 'aetherlens-catalog-lock-'));
    env = { DATABASE_URL: cluster.url, AETHERLENS_BACKUP_DIR: dir, PG_BIN_DIR: PG_BIN };
    // Enough rows that a drill's pg_restore runs for a few seconds.
    await seededServerDatabase(cluster.info, { extraRows: 300_000 });
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const made = await cli(['backup', '--json']);
      expect(made.exitCode).toBe(0);
      ids.push((JSON.parse(made.stdout) as { manifest: Manifest }).manifest.id);
      await sleep(1_100);
    }
    [older, newer] = ids as [string, string];
    for (const id of ids) expect((await cli(['verify', id])).exitCode).toBe(0);
  });
  afterAll(async () => {
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('rotate refuses while a drill reads the backup it would delete, naming the drill; the drill passes; rotate then deletes it', async () => {
    const plan = await cli(['rotate', '--dry-run', ...KEEP_ONE]);
    expect(plan.stdout).toContain(`would delete  ${older}`);
    const drill = startCli(['verify', older], env);
    let stderr = '';
    drill.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
    await waitFor('the drill restoring', async () => (stderr.includes(`restoring ${older} into`) ? true : undefined));
    const rotate = await cli(['rotate', ...KEEP_ONE]);
    expect(rotate.stderr).toMatch(new RegExp(`^error: rotation refused: verify of backup ${older} \\(pid ${drill.pid}, since [^)]+\\) is reading the backups in ${dir}; run rotate again when it is done; nothing was deleted$`));
    expect(rotate.exitCode).toBe(1);
    expect(existsSync(join(dir, older))).toBe(true);
    const { result } = { result: await drill };
    expect(result.stdout.split('\n')[0]).toMatch(new RegExp(`^verify ${older} \\(.+\\): PASSED$`));
    expect(result.exitCode).toBe(0);
    const again = await cli(['rotate', ...KEEP_ONE]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain(`deleted       ${older}`);
    expect(existsSync(join(dir, older))).toBe(false);
  });

  it('a drill started during a rotation waits for it, says so, then runs', async () => {
    const rotation = await deleteFromCatalog(dir);
    const drill = startCli(['verify', newer], env);
    let stderr = '';
    drill.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
    await waitFor('the drill waiting', async () => (stderr.includes('waiting for rotate') ? true : undefined));
    expect(stderr.split('\n')[0]).toBe(`waiting for rotate (pid ${process.pid}, since ${rotation.owner.since}) to finish with ${dir}`);
    await sleep(1_000);
    expect(stderr).not.toContain('restoring');
    await rotation.release();
    const result = await drill;
    expect(result.stdout.split('\n')[0]).toMatch(new RegExp(`^verify ${newer} \\(.+\\): PASSED$`));
    expect(result.exitCode).toBe(0);
  });
});
