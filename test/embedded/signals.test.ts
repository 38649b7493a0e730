// SIGTERM while the embedded engine runs a statement. The engine used to run on the main thread:
// a signal was handled only once the statement ended, so a service stop during a 30 s statement
// took 30 s, and systemd's SIGKILL (after 90 s by default) could come first.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { embeddedPaths } from '../../ops/lib/embedded/layout.js';
import { lockHolder } from '../../ops/lib/fileLock.js';
import { serveCli } from '../support/serveCli.js';
import { freePort } from '../support/nativeCluster.js';

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
    const { child: server } = await serveCli(dataDir, port, { forceKillAfterDelay: false });
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
    const { child: again } = await serveCli(dataDir, port, { forceKillAfterDelay: false });
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
