// The incident behind fileLock.ts: while a wire client ran a long statement, `local serve`'s lock
// went stale, `local status` reported it down, opened a second engine on the same files and, on
// exit, deleted serve's lock. Here the real CLI serves, a client sleeps 15 s in the engine, and
// other commands run on the same data directory meanwhile.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { embeddedPaths } from '../../ops/lib/embedded/layout.js';
import { lockHolder, readLockOwner } from '../../ops/lib/fileLock.js';
import { runCli } from '../support/cli.js';
import { freePort } from '../support/nativeCluster.js';
import { serveCli } from '../support/serveCli.js';

describe('a long statement on `local serve` does not cost it its lock', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'aetherlens-lock-serve-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('during SELECT pg_sleep(15): status says running, a second serve is refused naming the first, and serve keeps its lock', async () => {
    const dataDir = join(root, 'db');
    const port = await freePort();
    const server = await serveCli(dataDir, port);
    const pid = server.child.pid!;
    const lock = embeddedPaths(dataDir).lock;
    try {
      const owner = (await readLockOwner(lock))!;
      expect(owner).toMatchObject({ pid, command: 'aetherlens-db local serve', port });
      // `local serve`'s password, once it has one (kept in the data directory).
      const url = new URL(server.url);
      url.password = (await readFile(join(dataDir, 'password'), 'utf8').catch(() => '')).trim();
      const client = new pg.Client({ connectionString: url.href });
      await client.connect();
      // The engine serves one client at a time: this one leaves as soon as its statement ends.
      const sleeping = client.query<{ slept: string }>(`SELECT pg_sleep(15) AS slept`).finally(() => client.end());
      // Past the 5 s in which the old lock had to be refreshed; the statement blocks serve's thread.
      await sleep(6_000);
      const [status, second] = await Promise.all([
        runCli(['local', 'status', '--json'], { AETHERLENS_EMBEDDED_DIR: dataDir }, { timeoutMs: 60_000 }),
        runCli(['local', 'serve', '--port', String(await freePort())], { AETHERLENS_EMBEDDED_DIR: dataDir }, { timeoutMs: 60_000 }),
      ]);
      expect(second.exitCode).toBe(1);
      expect(second.stderr).toBe(`error: the embedded database ${dataDir} is already open by pid ${pid} on ${owner.host} (aetherlens-db local serve, since ${owner.since}, serving 127.0.0.1:${port}): stop it first (aetherlens-db local stop) or use that server`);
      expect(status.stderr).toBe('');
      expect(JSON.parse(status.stdout)).toMatchObject({ running: true, owner: { pid, port, since: owner.since } });
      expect((await sleeping).rows).toEqual([{ slept: '' }]);
      // Afterwards serve still holds its lock, with its own owner file.
      expect(await lockHolder(lock)).toMatchObject({ pid, since: owner.since });
      expect(await readLockOwner(lock)).toEqual(owner);
      const after = JSON.parse((await runCli(['local', 'status', '--json'], { AETHERLENS_EMBEDDED_DIR: dataDir })).stdout);
      expect(after).toMatchObject({ running: true, owner: { pid } });
    } finally {
      server.child.kill('SIGTERM');
      await server.child;
    }
    expect(await lockHolder(lock)).toBeUndefined();
  });
});
