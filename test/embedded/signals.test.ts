// SIGTERM while the embedded engine runs a statement. The engine used to run on the main thread:
// a signal was handled only once the statement ended, so a service stop during a 30 s statement
// took 30 s, and systemd's SIGKILL (after 90 s by default) could come first.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { embeddedPaths } from '../../ops/lib/embedded/layout.js';
import { lockHolder } from '../../ops/lib/fileLock.js';
import { CLI } from '../support/cli.js';
import { freePort } from '../support/nativeCluster.js';

/** Starts `local serve`; resolves once it prints how to connect. (Wrapped: the child is a thenable.) */
async function serve(dataDir: string, port: number): Promise<{ child: ResultPromise }> {
  const child = execa(process.execPath, [CLI, 'local', 'serve', '--port', String(port)], { env: { AETHERLENS_EMBEDDED_DIR: dataDir }, reject: false, forceKillAfterDelay: false });
  let out = '';
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`serve did not start: ${out}`)), 90_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (/connect: psql/.test(out)) {
        clearTimeout(timer);
        ok();
      }
    });
    void child.then((r) => fail(new Error(`serve exited ${r.exitCode}: ${r.stderr}`)));
  });
  return { child };
}

describe('SIGTERM during an embedded statement', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-signals-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('local serve running SELECT pg_sleep(30) stops at once; the lock is free, committed rows are kept, the open transaction is not', async () => {
    const dataDir = join(root, 'served');
    const port = await freePort();
    const { child: server } = await serve(dataDir, port);
    const password = (await readFile(embeddedPaths(dataDir).password, 'utf8')).trim();
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'template1' });
    client.on('error', () => {});
    await client.connect();
    await client.query(`CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)`);
    await client.query(`BEGIN; INSERT INTO kept VALUES (2)`);
    const sleeping = client.query(`SELECT pg_sleep(30)`).then(() => 'finished', (e: Error) => e.message);
    await sleep(1_000);

    const sent = performance.now();
    server.kill('SIGTERM');
    const ended = await server;
    const seconds = (performance.now() - sent) / 1000;
    // Within 2 s on an idle machine (measured 1.5 s); the bound leaves room for a loaded CI.
    expect(seconds).toBeLessThan(6);
    expect(ended.stderr).toBe('stopped on SIGTERM');
    expect(await sleeping).not.toBe('finished');
    await client.end().catch(() => {});

    expect(await lockHolder(embeddedPaths(dataDir).lock)).toBeUndefined();
    // The next open recovers like a server after a crash: the commit is there, the open transaction is not.
    const { child: again } = await serve(dataDir, port);
    try {
      const next = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'template1' });
      await next.connect();
      expect((await next.query('SELECT id FROM kept ORDER BY id')).rows).toEqual([{ id: 1 }]);
      await next.end();
    } finally {
      again.kill('SIGTERM');
      await again;
    }
  });
});
