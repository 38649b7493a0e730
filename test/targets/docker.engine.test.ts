// The docker target against the real `docker exec` (issue section 4): what the stand-in hid.
// docker exec forwards no signal, so an aborted backup must stop pg_dump inside the container;
// a container that stops mid-dump or mid-restore, and docker exec's own exit codes, must each be
// one line that says what happened; pg_restore through `docker exec -i` on a realistic dump.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKUP_ID_PATTERN } from '../../ops/lib/backup/catalog.js';
import { parseDatabaseUrl } from '../../ops/lib/connection.js';
import { withClient } from '../../ops/lib/pg.js';
import { execInContainer } from '../../ops/lib/targets/docker/exec.js';
import { openTarget } from '../../ops/lib/targets/open.js';
import { CLI, runCli } from '../support/cli.js';
import { describeDocker, docker, execIn, removeAll, requireTestImage, uniqueName } from '../support/docker.js';
import { freePort } from '../support/nativeCluster.js';
import { spawnScheduler } from '../scheduler/support/schedulerProcess.js';
import { createContainer, createVolumeAndNetwork, declare, runCommand, type DeclaredStack } from '../support/stackOnEngine.js';

const UPSTREAM = 'timescale/timescaledb:2.22.1-pg15';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns something truthy, or fails after `ms`. */
async function until<T>(what: string, probe: () => Promise<T>, ms = 60_000, every = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}

/** The CLI in a child process we can signal; resolves with its exit and output. */
function spawnCli(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => setImmediate(() => resolve({ code, signal, stdout, stderr }))));
  return { child, exited, stderr: () => stderr };
}

/** The error line the CLI printed (its last stderr line); progress lines come before it. */
const errorLine = (stderr: string) => stderr.trim().split('\n').at(-1) ?? '';

describeDocker('the docker target against the real docker exec', () => {
  const name = uniqueName('aetherlens-exec');
  let stack: DeclaredStack;
  let container: Docker.Container;
  let backupDir: string;
  const env = () => ({ AETHERLENS_DB_CONTAINER: name, AETHERLENS_BACKUP_DIR: backupDir });
  const db = () => parseDatabaseUrl(stack.connectionString, 'connectionString');
  const imageFor = (declared: string) => {
    if (declared !== UPSTREAM) throw new Error(`the stack declares ${declared}; only ${UPSTREAM} has a local stand-in`);
    return requireTestImage();
  };

  /** pids of `program` running inside the container: the image has no ps, so argv[0] from /proc. */
  const inContainer = async (program: 'pg_dump' | 'pg_restore') => {
    const r = await execIn(container, ['sh', '-c', `for p in /proc/[0-9]*; do a=$(tr '\\000' '\\n' < $p/cmdline 2>/dev/null | head -n 1); [ "\${a##*/}" = "$0" ] && echo \${p#/proc/}; done; true`, program]);
    return r.stdout.split('\n').filter(Boolean);
  };
  const sessionsOf = (app: string) => withClient(db(), async (c) =>
    (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [app])).rows[0]!.n, 'postgres');
  const dumpWaitingOnLock = () => withClient(db(), async (c) =>
    (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock'`)).rows[0]!.n > 0, 'postgres');
  const leftovers = async () => (await readdir(backupDir)).filter((n) => n.startsWith('.partial-'));
  const published = async () => (await readdir(backupDir)).filter((n) => BACKUP_ID_PATTERN.test(n));
  /** After an aborted backup: no pg_dump in the container or in pg_stat_activity, nothing staged or published. */
  const expectNoDumpLeft = async () => {
    expect(await inContainer('pg_dump')).toEqual([]);
    expect(await sessionsOf('pg_dump')).toBe(0);
    expect(await leftovers()).toEqual([]);
    expect(await published()).toEqual([]);
  };
  const counts = () => withClient(db(), async (c) => (await c.query<{ m: string; d: string; s: string }>(
    'SELECT (SELECT count(*) FROM metrics)::text AS m, (SELECT count(*) FROM devices)::text AS d, (SELECT sum(power_deciwatts) FROM metrics)::text AS s')).rows[0]!);

  /** A session holding an exclusive lock on devices: pg_dump then waits (deterministically) for it. */
  async function holdDevicesLock(): Promise<() => Promise<void>> {
    const client = new pg.Client({ ...db() });
    client.on('error', () => {});
    await client.connect();
    await client.query('BEGIN');
    await client.query('LOCK TABLE devices IN ACCESS EXCLUSIVE MODE');
    return async () => {
      await client.query('ROLLBACK').catch(() => {});
      await client.end().catch(() => {});
    };
  }

  async function startAndWaitHealthy(): Promise<void> {
    await container.start();
    await until('the container to be healthy', async () => (await container.inspect()).State.Health?.Status === 'healthy', 120_000, 500);
  }

  beforeAll(async () => {
    backupDir = await mkdtemp(join(tmpdir(), 'aetherlens-exec-backups-'));
    stack = await declare({ dbPassword: `Pw-${Math.random().toString(36).slice(2)}`, hostPort: String(await freePort()), containerName: name, volumeName: `${name}-data`, memoryMb: '1024', sampleData: 'false' });
    await createVolumeAndNetwork(stack);
    container = await createContainer(stack, imageFor);
    const step = await runCommand(stack);
    expect(step.exitCode, step.stderr).toBe(0);
    const seeded = await runCli(['seed', '--devices', '20', '--days', '30'], env(), { timeoutMs: 300_000 });
    expect(seeded.exitCode, seeded.stderr).toBe(0);
  }, 600_000);

  afterAll(async () => {
    await removeAll({ containers: [name], networks: [`${name}-net`], volumes: [`${name}-data`] });
    if (backupDir) await rm(backupDir, { recursive: true, force: true });
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('%s to the CLI stops pg_dump inside the container; nothing is left in staging', async (signal) => {
    const release = await holdDevicesLock();
    try {
      const cli = spawnCli(['backup'], env());
      await until('pg_dump to wait for its lock', dumpWaitingOnLock);
      expect(await inContainer('pg_dump')).toHaveLength(1);
      cli.child.kill(signal);
      const end = await cli.exited;
      expect(end.code, end.stderr).toBe(1);
      expect(errorLine(end.stderr)).toBe('error: backup interrupted: the partial backup was removed and older backups are untouched');
      // When the CLI has exited, nothing of it runs on in the container.
      await expectNoDumpLeft();
    } finally {
      await release();
    }
  });

  it('the scheduler stopping (SIGTERM, no grace) stops pg_dump inside the container', async () => {
    const release = await holdDevicesLock();
    try {
      const s = spawnScheduler(['--cron', '0 0 1 1 *', '--grace', '0s', '--timezone', 'UTC'], env());
      // No verified backup yet: it catches up at once.
      await s.waitFor((l) => l.event === 'step.start' && l.step === 'backup', 60_000);
      await until('pg_dump to wait for its lock', dumpWaitingOnLock);
      s.kill('SIGTERM');
      const end = await s.exited;
      expect(end.code, s.stderr()).toBe(0);
      expect(s.lines.find((l) => l.event === 'run.end')).toMatchObject({ verdict: 'aborted' });
      await expectNoDumpLeft();
    } finally {
      await release();
    }
  });

  it('the container stopped mid-dump: one line, exit 1, nothing published, the data unchanged after a restart', async () => {
    const before = await counts();
    const release = await holdDevicesLock();
    const cli = spawnCli(['backup'], env());
    let end: Awaited<typeof cli.exited>;
    try {
      await until('pg_dump to wait for its lock', dumpWaitingOnLock);
      await container.stop();
      end = await cli.exited;
    } finally {
      await release();
      await startAndWaitHealthy();
    }
    expect(end.code, end.stderr).toBe(1);
    expect(errorLine(end.stderr)).toMatch(new RegExp(`^error: backup failed: container "${name}" stopped while pg_dump ran.*: start it \\(docker start ${name}\\).*; the partial backup was removed and older backups are untouched$`));
    expect(end.stderr).not.toMatch(/\n\s+at /);
    expect(await leftovers()).toEqual([]);
    expect(await published()).toEqual([]);
    expect(await counts()).toEqual(before);
  });

  let backupId: string;
  it('backup, then verify through docker exec -i on 20 devices x 30 days', async () => {
    const made = await runCli(['backup', '--json'], env(), { timeoutMs: 300_000 });
    expect(made.exitCode, made.stderr).toBe(0);
    backupId = (JSON.parse(made.stdout) as { id: string }).id;
    const verify = await runCli(['verify', backupId, '--json'], env(), { timeoutMs: 300_000 });
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, differences: [] });
  });

  it('SIGINT during verify stops pg_restore inside the container (its stdin is docker exec -i) and drops the scratch copy', async () => {
    const cli = spawnCli(['verify', backupId], env());
    await until('pg_restore to run', async () => (await sessionsOf('pg_restore')) > 0, 120_000, 50);
    cli.child.kill('SIGINT');
    const end = await cli.exited;
    expect(end.code, end.stderr).toBe(1);
    expect(errorLine(end.stderr)).toMatch(/^error: verify interrupted: the scratch copy aetherlens_drill_\d{8}_\d{6} was removed; the backup was not marked$/);
    expect(await inContainer('pg_restore')).toEqual([]);
    expect(await sessionsOf('pg_restore')).toBe(0);
    const scratch = await withClient(db(), async (c) => (await c.query(`SELECT 1 FROM pg_database WHERE datname LIKE 'aetherlens_drill_%'`)).rowCount, 'postgres');
    expect(scratch).toBe(0);
  });

  it('the container stopped mid-restore: one line, exit 1, the live database untouched; the next verify drops the leftover', async () => {
    const before = await counts();
    const cli = spawnCli(['restore', backupId, '--yes', '--force'], env());
    let end: Awaited<typeof cli.exited>;
    try {
      await until('pg_restore to run', async () => (await sessionsOf('pg_restore').catch(() => 0)) > 0, 120_000, 50);
      await container.stop();
      end = await cli.exited;
    } finally {
      await startAndWaitHealthy();
    }
    expect(end.code, end.stderr).toBe(1);
    expect(errorLine(end.stderr)).toMatch(new RegExp(`^error: container "${name}" stopped while pg_restore ran.*: start it \\(docker start ${name}\\)`));
    expect(end.stderr).not.toMatch(/\n\s+at /);
    expect(await counts()).toEqual(before);
    const scratch = await withClient(db(), async (c) => (await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'aetherlens_restore_%'`)).rows.map((r) => r.datname), 'postgres');
    expect(scratch).toHaveLength(1);
    const verify = await runCli(['verify', backupId, '--json'], env(), { timeoutMs: 300_000 });
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);
    expect((JSON.parse(verify.stdout) as { cleaned: string[] }).cleaned).toEqual(scratch);
  });

  it('restore through docker exec -i swaps in the backup; counts equal', async () => {
    const before = await counts();
    await withClient(db(), (c) => c.query(`DELETE FROM metrics WHERE time > now() - interval '2 days'`));
    expect(await counts()).not.toEqual(before);
    const restore = await runCli(['restore', backupId, '--yes', '--force', '--json'], env(), { timeoutMs: 300_000 });
    expect(restore.exitCode, restore.stdout + restore.stderr).toBe(0);
    expect(await counts()).toEqual(before);
  });

  it('a pg_dump blocked writing into a pipe nobody reads is stopped too', async () => {
    const target = await openTarget({ kind: 'docker', container: name }, { command: 'test' });
    const session = await target.openDumpSession();
    const dir = await mkdtemp(join(tmpdir(), 'aetherlens-exec-pipe-'));
    const file = join(dir, 'dump');
    const controller = new AbortController();
    let cli: number | undefined;
    try {
      const dumping = session.dump({ file, compressionLevel: 0, signal: controller.signal, onSpawn: (pid) => (cli = pid) });
      dumping.catch(() => {});
      await until('pg_dump to write', async () => (await stat(file).catch(() => undefined))?.size);
      // The docker CLI stops reading: pg_dump fills the pipe and the daemon's buffers, then blocks.
      process.kill(cli!, 'SIGSTOP');
      const size = async () => (await stat(file)).size;
      let last = -1;
      await until('the dump to stop growing', async () => {
        const now = await size();
        const still = now === last;
        last = now;
        return still;
      }, 30_000, 1000);
      expect(await inContainer('pg_dump')).toHaveLength(1);
      controller.abort();
      await expect(dumping).rejects.toThrow('pg_dump in container ' + name + ' was interrupted');
      expect(await inContainer('pg_dump')).toEqual([]);
    } finally {
      // Killed by then (execa's SIGKILL reaches a stopped process); harmless if not.
      if (cli) try { process.kill(cli, 'SIGCONT'); } catch { /* gone */ }
      await session.close();
      await target.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('docker exec exit codes, as this engine gives them', () => {
    const probe = uniqueName('aetherlens-probe');
    const c = (message: string) => message.replaceAll(probe, 'C');
    const failure = (command: string[], container = probe) =>
      execInContainer(container, command, { what: command[0]! }).then(() => 'no error', (error: Error) => c(error.message));

    beforeAll(async () => {
      const created = await docker.createContainer({ name: probe, Image: requireTestImage(), Entrypoint: ['sleep', '3600'] });
      await created.start();
    });
    afterAll(() => removeAll({ containers: [probe] }));

    it('a program that exits non-zero is its own business', async () => {
      expect(await execInContainer(probe, ['sh', '-c', 'echo out; echo err >&2; exit 3'], { what: 'sh' })).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
    });

    it('126: not executable; also this engine\'s answer for a program that is not there', async () => {
      expect(await failure(['/etc/passwd'])).toMatchInlineSnapshot(`"/etc/passwd in container "C" could not be started (exit 126: OCI runtime exec failed: exec failed: unable to start container process: exec: "/etc/passwd": permission denied: unknown): the container must run the PostgreSQL image the stack declares"`);
      expect(await failure(['pg_dumpx', '--version'])).toMatchInlineSnapshot(`"pg_dumpx was not found in container "C" (exit 126: OCI runtime exec failed: exec failed: unable to start container process: exec: "pg_dumpx": executable file not found in $PATH: unknown): the container must run the PostgreSQL image the stack declares (its client tools on PATH)"`);
    });

    it('127: not found by a shell', async () => {
      expect(await failure(['sh', '-c', 'exec pg_dumpx'])).toMatchInlineSnapshot(`"sh in container "C" could not run a program it needs (exit 127: sh: 1: exec: pg_dumpx: not found): the container must run the PostgreSQL image the stack declares (its client tools on PATH)"`);
    });

    it('137: killed while the container kept running', async () => {
      expect(await failure(['sh', '-c', 'kill -KILL $$'])).toMatchInlineSnapshot(`"sh in container "C" was killed (SIGKILL, exit 137) while the container kept running: most likely the out-of-memory killer (raise the stack's memoryMb), or someone ran kill -9; then run the command again"`);
    });

    it('125: docker refused the command line', async () => {
      expect(await failure(['true'], '--no-such-flag')).toMatchInlineSnapshot(`"docker exec refused to run true in container "--no-such-flag" (exit 125: unknown flag: --no-such-flag): check the docker CLI and its version"`);
    });

    it('stopped under the program, then not running, then gone', async () => {
      const running = failure(['sleep', '60']);
      await until('sleep to run', async () => (await execIn(docker.getContainer(probe), ['sh', '-c', 'grep -l "^slee[p]" /proc/[0-9]*/cmdline || true'])).stdout.trim());
      await docker.getContainer(probe).kill();
      expect(await running).toMatchInlineSnapshot(`"container "C" stopped while sleep ran: start it (docker start C), then run the command again"`);
      expect(await failure(['pg_dump', '--version'])).toMatchInlineSnapshot(`"container "C" is not running, so pg_dump could not start in it: start it (docker start C), then run the command again"`);
      await docker.getContainer(probe).remove({ force: true });
      expect(await failure(['pg_dump', '--version'])).toMatchInlineSnapshot(`"container "C" no longer exists, so pg_dump could not run in it: create it again (pulumi up), then run the command again"`);
    });
  });
});
