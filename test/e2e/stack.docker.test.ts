// The deployed stack, end to end, on the real Docker engine: what `pulumi up` declares, created
// as @pulumi/docker and @pulumi/command would (test/support/stackOnEngine.ts), then the post-deploy
// step, backups, a drill, a restore, a scheduler cycle and a container replacement, all through
// the real CLI against the container, as an operator runs them.
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseMigrationHead } from '../../infra/postDeploy.js';
import { tuningFor } from '../../infra/tuning.js';
import { compareFingerprints, pgSqlClient, readManifest, takeFingerprint } from '../../ops/lib/index.js';
import { withClient } from '../../ops/lib/pg.js';
import { readStatusFile } from '../../ops/lib/scheduler/status.js';
import { runCli } from '../support/cli.js';
import { describeDocker, docker, execIn, logsOf, removeAll, requireTestImage, uniqueName } from '../support/docker.js';
import { freePort } from '../support/nativeCluster.js';
import { spawnScheduler } from '../scheduler/support/schedulerProcess.js';
import { createContainer, createVolumeAndNetwork, declare, deleteContainer, runCommand, stackDatabase, type DeclaredStack } from '../support/stackOnEngine.js';

const UPSTREAM = 'timescale/timescaledb:2.22.1-pg15';
const INIT_DONE = 'PostgreSQL init process complete; ready for start up.';
const count = (text: string, needle: string) => text.split(needle).length - 1;

describeDocker('the deployed stack on a real Docker engine', () => {
  const name = uniqueName('aetherlens-e2e');
  const password = `Pw-${Math.random().toString(36).slice(2)}/:@x`;
  let raw: Record<string, string>;
  let stack: DeclaredStack;
  let container: Docker.Container;
  let backupDir: string;
  /** The health check's own command, run by us while the entrypoint's init server was up. */
  const duringInit: number[] = [];
  const healthSeen: { status: string; initDone: boolean }[] = [];
  const imageFor = (declared: string) => {
    if (declared !== UPSTREAM) throw new Error(`the stack declares ${declared}; only ${UPSTREAM} has a local stand-in`);
    return requireTestImage();
  };
  const env = () => ({ AETHERLENS_DB_CONTAINER: name, AETHERLENS_BACKUP_DIR: backupDir });
  const db = () => stackDatabase(stack);

  beforeAll(async () => {
    backupDir = await mkdtemp(join(tmpdir(), 'aetherlens-e2e-backups-'));
    raw = { dbPassword: password, hostPort: String(await freePort()), containerName: name, volumeName: `${name}-data`, memoryMb: '512' };
    stack = await declare(raw);
    await createVolumeAndNetwork(stack);
    // Runs the health check's command whenever the entrypoint's temporary server is up.
    let created = false;
    const probe = (async () => {
      for (let i = 0; i < 600; i++) {
        const c = docker.getContainer(name);
        const running = await c.inspect().then((s) => s.State.Running, () => false);
        if (running) {
          created = true;
          const logs = await logsOf(c);
          if (logs.includes(INIT_DONE)) return;
          if (logs.includes('/docker-entrypoint-initdb.d/')) {
            const hc = stack.container.healthcheck as { tests: string[] };
            const code = (await execIn(c, hc.tests.slice(1))).exitCode;
            // Counted only if init was still running after the check: it may end in between.
            if (!(await logsOf(c)).includes(INIT_DONE)) duringInit.push(code);
          }
        } else if (created) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    container = await createContainer(stack, imageFor, async (sample, c) => {
      healthSeen.push({ status: sample.status, initDone: (await logsOf(c)).includes(INIT_DONE) });
    });
    await probe;
  }, 300_000);

  afterAll(async () => {
    await removeAll({ containers: [name], networks: [`${name}-net`], volumes: [`${name}-data`] });
  });

  it('is healthy only once the entrypoint has finished initialising, and ran the init scripts once', async () => {
    expect(healthSeen.at(-1)).toEqual({ status: 'healthy', initDone: true });
    expect(healthSeen.filter((h) => h.status === 'healthy' && !h.initDone)).toEqual([]);
    // While the temporary server (Unix socket only) ran the init scripts, the check said no.
    expect(duringInit.length).toBeGreaterThan(0);
    expect(duringInit.filter((code) => code === 0)).toEqual([]);
    const logs = await logsOf(container);
    for (const script of ['000_install_timescaledb.sh', '001_timescaledb_tune.sh', '01-enable-timescaledb.sql']) {
      expect(count(logs, `running /docker-entrypoint-initdb.d/${script}`), script).toBe(1);
    }
  });

  it('reads the uploaded password file and takes that password over TCP from the host, and only that one', async () => {
    const file = await execIn(container, ['stat', '-c', '%a %U:%G', '/run/secrets/aetherlens-db-password']);
    expect(file.stdout.trim()).toBe('644 root:root');
    const info = (await container.inspect()).Config.Env;
    expect(info.join('\n')).not.toContain(password);
    expect(await withClient(db(), async (c) => (await c.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u)).toBe('aetherlens');
    const wrong = new pg.Client({ ...db(), password: 'not-the-password' });
    await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
    await wrong.end().catch(() => {});
  });

  it('runs under the declared memory limit and telemetry is off', async () => {
    expect((await container.inspect()).HostConfig.Memory).toBe(512 * 1024 * 1024);
    const limit = await execIn(container, ['sh', '-c', 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes']);
    expect(limit.stdout.trim()).toBe(String(512 * 1024 * 1024));
    const telemetry = await withClient(db(), async (c) => (await c.query<{ scheduled: boolean }>('SELECT scheduled FROM timescaledb_information.jobs WHERE job_id = 1')).rows);
    expect(telemetry).toEqual([{ scheduled: false }]);
  });

  it('runs the post-deploy step as the Command resource does; its stdout gives migrationHead', async () => {
    const step = await runCommand(stack);
    expect(step.stderr).toBe('');
    expect(step.exitCode).toBe(0);
    expect(parseMigrationHead(step.stdout)).toBe('6');
    const devices = await withClient(db(), async (c) => (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM devices')).rows[0]!.n);
    expect(devices).toBe(3);
  });

  it('status, backup, verify and restore through the docker target', async () => {
    const status = await runCli(['status', '--json'], env());
    expect(status.stderr).toBe('');
    expect(JSON.parse(status.stdout)).toMatchObject({ head: 6 });

    const backup = await runCli(['backup', '--json'], env());
    expect(backup.exitCode, backup.stderr).toBe(0);
    const id = (JSON.parse(backup.stdout) as { id: string }).id;

    const verify = await runCli(['verify', id, '--json'], env());
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, differences: [] });

    const before = await withClient(db(), async (c) => (await c.query<{ n: string; s: string }>('SELECT count(*)::text AS n, sum(power_deciwatts)::text AS s FROM metrics')).rows[0]);
    await withClient(db(), (c) => c.query(`UPDATE devices SET name = 'changed after the backup'; DELETE FROM metrics WHERE time > now() - interval '1 day'`));

    const restore = await runCli(['restore', id, '--yes', '--force', '--json'], env(), { timeoutMs: 300_000 });
    expect(restore.exitCode, restore.stdout + restore.stderr).toBe(0);
    const after = await withClient(db(), async (c) => ({
      metrics: (await c.query<{ n: string; s: string }>('SELECT count(*)::text AS n, sum(power_deciwatts)::text AS s FROM metrics')).rows[0],
      changed: (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM devices WHERE name = 'changed after the backup'`)).rows[0]!.n,
      telemetry: (await c.query<{ scheduled: boolean }>('SELECT scheduled FROM timescaledb_information.jobs WHERE job_id = 1')).rows,
      kept: (await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'aetherlens_pre_restore_%'`)).rows,
    }));
    expect(after.metrics).toEqual(before);
    expect(after.changed).toBe(0);
    // Exactly the backup: the live database's fingerprint equals the one taken with the dump.
    const manifest = await readManifest(join(backupDir, id));
    expect(compareFingerprints(manifest.fingerprint, await withClient(db(), (c) => takeFingerprint(pgSqlClient(c))))).toEqual([]);
    // The privacy promise survives the restore: telemetry stays off.
    expect(after.telemetry).toEqual([{ scheduled: false }]);
    expect(after.kept).toHaveLength(1);
    const previous = { ...db(), database: after.kept[0]!.datname };
    expect(await withClient(previous, async (c) => (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM devices WHERE name = 'changed after the backup'`)).rows[0]!.n)).toBe(3);
  });

  it('runs one scheduler cycle: backup, drill, rotation, status file', async () => {
    const s = spawnScheduler(['--cron', '*/5 * * * * *', '--grace', '0s', '--timezone', 'UTC'], env());
    try {
      const end = await s.waitFor((l) => l.event === 'run.end', 180_000);
      expect(end).toMatchObject({ verdict: 'ok' });
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
    const status = (await readStatusFile(join(backupDir, 'scheduler-status.json')))!;
    expect(status.lastAttempt?.verdict).toBe('ok');
    expect(status.counters.failures.backup + status.counters.failures.drill).toBe(0);
    expect((await readdir(backupDir)).filter((n) => n.startsWith('.partial-'))).toEqual([]);
  });

  it('memoryMb 1024: the container is replaced on the same volume, data intact, new settings in force, no post-deploy run', async () => {
    const rows = async () => withClient(db(), async (c) => (await c.query<{ n: string }>('SELECT (SELECT count(*) FROM metrics)::text || \'/\' || (SELECT count(*) FROM devices)::text AS n')).rows[0]!.n);
    const before = await rows();
    const next = await declare({ ...raw, memoryMb: '1024' });
    expect(next.container.memory).toBe(1024);
    // The step's trigger is the migration set's checksum: unchanged, so Pulumi does not run it.
    expect(next.command.triggers).toEqual(stack.command.triggers);
    await deleteContainer(stack);
    stack = next;
    container = await createContainer(stack, imageFor);
    expect(await rows()).toBe(before);
    const shown = await withClient(db(), async (c) => (await c.query<{ shared_buffers: string }>('SHOW shared_buffers')).rows[0]!.shared_buffers);
    expect(shown).toBe(tuningFor(1024, Number(raw.cpus ?? 1)).shared_buffers);
    expect((await container.inspect()).HostConfig.Memory).toBe(1024 * 1024 * 1024);
    const logs = await logsOf(container);
    expect(logs).toContain('Skipping initialization');
    expect(count(logs, 'running /docker-entrypoint-initdb.d/')).toBe(0);
    const status = await runCli(['status', '--json'], env());
    expect(JSON.parse(status.stdout)).toMatchObject({ head: 6 });
  });
});
