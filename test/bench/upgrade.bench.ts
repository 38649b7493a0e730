/**
 * Upgrade benchmarks (issue 16), on the real Docker engine and the test images; standalone, not
 * part of `npm run bench` (it needs the engine and three images):
 *
 *     npx tsx test/bench/upgrade.bench.ts                                   # 10 devices × 30 days of 1-minute readings
 *     BENCH_UPGRADE_DEVICES=3 BENCH_UPGRADE_DAYS=7 npx tsx test/bench/upgrade.bench.ts   # quick
 *
 * Measures, through the stack as test/support/stackOnEngine.ts runs it:
 *   1. the minor path 2.22.1-pg15 → 2.28.3-pg15: pre-upgrade backup + drill (the old server still
 *      answers), then downtime (old container stopped → new one healthy → post-deploy's upgrade done);
 *   2. the major path 2.28.3-pg15 → 2.29.2-pg17: the same, where the post-deploy step carries the
 *      data over (drill and restore on PostgreSQL 17);
 *   3. in the same run, the baseline a person would do by hand: `pg_dump -Fc` in the old container,
 *      a new PostgreSQL 17 container, the extension created at the dump's version,
 *      pre_restore, `pg_restore` of the dump, post_restore, ALTER EXTENSION UPDATE, nothing checked.
 *      Its downtime runs from the dump's start (writes must stop there) to the restore's end.
 * Ratios are against that baseline. Nothing here asserts a timer.
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDatabaseUrl } from '../../ops/lib/connection.js';
import { withClient } from '../../ops/lib/pg.js';
import { runCli } from '../support/cli.js';
import { removeAll, requireTestImage, requireTestImageWith, uniqueName } from '../support/docker.js';
import { freePort } from '../support/nativeCluster.js';
import { createContainer, createVolumeAndNetwork, declare, deleteContainer, runCommand, type DeclaredStack } from '../support/stackOnEngine.js';

const OLD = 'timescale/timescaledb:2.22.1-pg15';
const MID = 'timescale/timescaledb:2.28.3-pg15';
const NEW = 'timescale/timescaledb:2.29.2-pg17';
const devices = process.env.BENCH_UPGRADE_DEVICES ?? '10';
const days = process.env.BENCH_UPGRADE_DAYS ?? '30';
const log = (line: string) => process.stderr.write(`${line}\n`);
const seconds = (since: number) => (performance.now() - since) / 1000;

/** `docker exec` with stdin from / stdout to a file; resolves with the exit code. */
function dockerExec(args: string[], io: { stdinFile?: string; stdoutFile?: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', ['exec', ...(io.stdinFile ? ['-i'] : []), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    if (io.stdinFile) createReadStream(io.stdinFile).pipe(child.stdin);
    else child.stdin.end();
    if (io.stdoutFile) child.stdout.pipe(createWriteStream(io.stdoutFile));
    else child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? -1));
  });
}

async function main(): Promise<void> {
  const images: Record<string, string> = { [OLD]: requireTestImage(), [MID]: requireTestImageWith('15', ['2.22.1', '2.28.3']), [NEW]: requireTestImageWith('17', ['2.22.1', '2.28.3', '2.29.2']) };
  const imageFor = (declared: string) => images[declared]!;
  const name = uniqueName('aetherlens-bench-upgrade');
  const manual = uniqueName('aetherlens-bench-manual');
  const work = await mkdtemp(join(tmpdir(), 'aetherlens-bench-upgrade-'));
  const backupDir = join(work, 'backups');
  const raw = { dbPassword: `Pw-${Math.random().toString(36).slice(2)}`, hostPort: String(await freePort()), containerName: name, volumeName: `${name}-data`, memoryMb: '1024', cpus: '2', backupDir, sampleData: 'false' };
  const rows: [string, number, string][] = [];
  try {
    let stack: DeclaredStack = await declare({ ...raw, image: OLD });
    await runCommand(stack, {}, 'preUpgrade');
    await createVolumeAndNetwork(stack);
    await createContainer(stack, imageFor);
    if ((await runCommand(stack)).exitCode !== 0) throw new Error('first deploy failed');
    log(`seeding ${devices} devices × ${days} days of 1-minute readings`);
    const seeded = await runCli(['seed', '--devices', devices, '--days', days, '--interval', '1m'], { DATABASE_URL: stack.connectionString });
    if (seeded.exitCode !== 0) throw new Error(`seed failed: ${seeded.stderr}`);
    const size = await withClient(parseDatabaseUrl(stack.connectionString, 'connectionString'), async (c) => (await c.query<{ s: string }>(`SELECT pg_size_pretty(pg_database_size(current_database())) AS s`)).rows[0]!.s);

    /** One move through the stack: pre-upgrade step, replacement, post-deploy. */
    const move = async (image: string, label: string) => {
      stack = await declare({ ...raw, image });
      let t = performance.now();
      const pre = await runCommand(stack, {}, 'preUpgrade');
      if (pre.exitCode !== 0) throw new Error(`${label}: pre-upgrade failed: ${pre.stderr}`);
      const backupSeconds = seconds(t);
      await createVolumeAndNetwork(stack);
      t = performance.now();
      await deleteContainer(stack);
      await createContainer(stack, imageFor);
      const healthy = seconds(t);
      const post = await runCommand(stack);
      if (post.exitCode !== 0) throw new Error(`${label}: post-deploy failed: ${post.stderr}`);
      const down = seconds(t);
      rows.push([`${label}: pre-upgrade backup + drill (server still up)`, backupSeconds, '']);
      rows.push([`${label}: downtime to the new container healthy`, healthy, '']);
      rows.push([`${label}: downtime to post-deploy done`, down, '']);
      rows.push([`${label}: whole pulumi up`, backupSeconds + down, '']);
      return { backupSeconds, down };
    };
    log('minor path');
    await move(MID, 'minor 2.22.1-pg15 → 2.28.3-pg15');

    // The baseline by hand, from the same 2.28.3-pg15 server, before the stack moves.
    log('baseline: pg_dump | pg_restore by hand into a new PostgreSQL 17 container');
    const dump = join(work, 'by-hand.dump');
    const manualStack = await declare({ image: NEW, dbPassword: raw.dbPassword, hostPort: String(await freePort()), containerName: manual, volumeName: `${manual}-data`, memoryMb: '1024', cpus: '2', sampleData: 'false' });
    const t0 = performance.now();
    if ((await dockerExec([name, 'pg_dump', '-Fc', '-Z', '1', '-U', 'aetherlens', '-d', 'aetherlens'], { stdoutFile: dump })) !== 0) throw new Error('pg_dump failed');
    const dumpSeconds = seconds(t0);
    let t = performance.now();
    await createVolumeAndNetwork(manualStack);
    await createContainer(manualStack, imageFor);
    const startSeconds = seconds(t);
    t = performance.now();
    const manualDb = parseDatabaseUrl(manualStack.connectionString, 'connectionString');
    await withClient(manualDb, async (c) => {
      for (const role of ['aetherlens_app', 'aetherlens_readonly', 'aetherlens_backup']) await c.query(`CREATE ROLE ${role} NOLOGIN`);
      await c.query('CREATE DATABASE restored TEMPLATE template0');
    }, 'postgres');
    await withClient(manualDb, async (c) => {
      await c.query(`CREATE EXTENSION timescaledb VERSION '2.28.3'`);
      await c.query('SELECT timescaledb_pre_restore()');
    }, 'restored');
    if ((await dockerExec([manual, 'pg_restore', '-U', 'aetherlens', '-d', 'restored'], { stdinFile: dump })) !== 0) throw new Error('pg_restore failed');
    await withClient(manualDb, (c) => c.query('SELECT timescaledb_post_restore()'), 'restored');
    await withClient(manualDb, (c) => c.query('ALTER EXTENSION timescaledb UPDATE'), 'restored');
    const restoreSeconds = seconds(t);
    const manualDown = dumpSeconds + startSeconds + restoreSeconds;
    rows.push([`by hand: pg_dump -Fc -Z1 (${((await stat(dump)).size / 1e6).toFixed(1)} MB)`, dumpSeconds, '']);
    rows.push(['by hand: new PostgreSQL 17 container healthy', startSeconds, '']);
    rows.push(['by hand: pg_restore at 2.28.3 + update to 2.29.2', restoreSeconds, '']);
    rows.push(['by hand: downtime (dump start → restore done)', manualDown, 'baseline']);

    log('major path');
    const major = await move(NEW, 'major 2.28.3-pg15 → 2.29.2-pg17');
    for (const row of rows) if (row[0].startsWith('major') && row[0].includes('downtime to post-deploy')) row[2] = `${(row[1] / manualDown).toFixed(2)}× by hand`;
    rows.push(['major: whole pulumi up against the by-hand downtime', major.backupSeconds + major.down, `${((major.backupSeconds + major.down) / manualDown).toFixed(2)}× by hand`]);

    process.stdout.write(`upgrade paths, database ${size}, ${devices} devices × ${days} days of 1-minute readings\n`);
    for (const [what, s, note] of rows) process.stdout.write(`${what.padEnd(62)} ${s.toFixed(1).padStart(7)} s  ${note}\n`);
  } finally {
    await removeAll({ containers: [name, manual], networks: [`${name}-net`, `${manual}-net`], volumes: [`${name}-data`, `${name}-data-pg17`, `${manual}-data-pg17`] });
    await rm(work, { recursive: true, force: true });
  }
}

await main();
