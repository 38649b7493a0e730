import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backup, openTarget } from '../../ops/lib/index.js';
import { connect, withClient } from '../../ops/lib/pg.js';
import { nativeUnavailableReason, PG_BIN, startNativeCluster, type NativeCluster } from '../support/nativeCluster.js';

const unavailable = nativeUnavailableReason();

describe.skipIf(unavailable)('a backup waiting on someone else\'s table lock', () => {
  let cluster: NativeCluster;
  let dir: string;
  beforeAll(async () => {
    cluster = await startNativeCluster();
    dir = await mkdtemp(join(tmpdir(), 'aetherlens-abort-lock-'));
    await withClient(cluster.info, async (c) => {
      await c.query('CREATE TABLE busy (id int)');
      await c.query('INSERT INTO busy SELECT generate_series(1, 1000)');
    });
  });
  afterAll(async () => {
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('stops promptly when aborted, and leaves nothing behind', async () => {
    const holder = await connect(cluster.info);
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE busy IN ACCESS EXCLUSIVE MODE');
    const target = await openTarget({ kind: 'server', connection: cluster.info }, { command: 'test', pgBinDir: PG_BIN });
    const abort = new AbortController();
    try {
      const running = backup({ target, dir, signal: abort.signal }).then(() => 'finished', (e: Error) => e.message);
      await new Promise((r) => setTimeout(r, 1500));
      const aborted = Date.now();
      abort.abort();
      const outcome = await running;
      expect(Date.now() - aborted).toBeLessThan(8_000);
      expect(outcome).not.toBe('finished');
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      await holder.end();
      await target.close();
    }
  });
});
