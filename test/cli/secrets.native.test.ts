// Issue 17, item 7, through the real CLI and the real scheduler process: a secret given each way
// (DATABASE_URL's password, PGPASSWORD, the admin password, a ping URL's token in the environment
// or as a flag) is absent from every log line, error, status file and .prom file, even when the
// server repeats it: each run names a database after the secret, which does not exist, so the
// server's "database … does not exist" carries the secret into the error.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectionUrl } from '../../ops/lib/connection.js';
import { runCli } from '../support/cli.js';
import { describeNative, PG_BIN, startNativeCluster, type NativeCluster } from '../support/nativeCluster.js';
import { spawnScheduler } from '../scheduler/support/schedulerProcess.js';

interface Way {
  name: string;
  /** The secret, which is also the name of the (missing) database. */
  secret: string;
  env: Record<string, string>;
  scheduleArgs?: string[];
}

describeNative('secrets never reach output (real CLI, native server)', () => {
  let cluster: NativeCluster;
  let root: string;
  const ways = (): Way[] => {
    const url = (database: string, withPassword = true) => connectionUrl({ ...cluster.info, ...(withPassword ? {} : { password: undefined }), database });
    const password = cluster.info.password!;
    return [
      { name: 'DATABASE_URL password', secret: password, env: { DATABASE_URL: url(password) } },
      { name: 'PGPASSWORD', secret: password, env: { DATABASE_URL: url(password, false).replace(/:[^:@/]*@/, '@'), PGPASSWORD: password } },
      { name: 'AETHERLENS_ADMIN_PASSWORD', secret: 'adminSecret4711', env: { DATABASE_URL: url('adminSecret4711'), AETHERLENS_ADMIN_PASSWORD: 'adminSecret4711' } },
      { name: 'AETHERLENS_PING_URL token', secret: 'pingToken0123456789abcdef', env: { DATABASE_URL: url('pingToken0123456789abcdef'), AETHERLENS_PING_URL: 'http://127.0.0.1:9/pingToken0123456789abcdef' } },
      { name: '--ping-url token', secret: 'flagToken0123456789abcdef', env: { DATABASE_URL: url('flagToken0123456789abcdef') }, scheduleArgs: ['--ping-url', 'http://127.0.0.1:9/flagToken0123456789abcdef'] },
    ];
  };

  beforeAll(async () => {
    cluster = await startNativeCluster();
    root = await mkdtemp(join(tmpdir(), 'aetherlens-secrets-cli-'));
  });
  afterAll(async () => {
    await cluster?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('backup: the error line names the missing database without the secret', async () => {
    for (const way of ways()) {
      if (way.scheduleArgs) continue;
      const r = await runCli(['backup', '--debug'], { ...way.env, AETHERLENS_BACKUP_DIR: join(root, 'b'), PG_BIN_DIR: PG_BIN });
      expect(r.exitCode, way.name).toBe(1);
      expect(r.stderr, way.name).toContain('database "***" does not exist');
      expect(`${r.stdout}\n${r.stderr}`, way.name).not.toContain(way.secret);
    }
  });

  it('schedule: its log lines, status file and .prom file never carry the secret', async () => {
    for (const [i, way] of ways().entries()) {
      const dir = await mkdtemp(join(root, `sched-${i}-`));
      const status = join(dir, 'status.json');
      const prom = join(dir, 'backups.prom');
      const s = spawnScheduler(['--cron', '0 3 * * *', '--status-file', status, '--prom-file', prom, ...(way.scheduleArgs ?? [])], {
        ...way.env, AETHERLENS_BACKUP_DIR: join(dir, 'backups'), PG_BIN_DIR: PG_BIN, AETHERLENS_TIMEZONE: 'UTC',
      });
      const end = await s.waitFor((l) => l.event === 'run.end');
      expect(end, way.name).toMatchObject({ verdict: 'failed' });
      s.kill('SIGTERM');
      await s.exited;
      const written = [s.raw.join('\n'), s.stderr(), await readFile(status, 'utf8'), await readFile(prom, 'utf8')];
      expect(written[0], way.name).toContain('database \\"***\\" does not exist');
      for (const text of written) expect(text, way.name).not.toContain(way.secret);
    }
  });
});
