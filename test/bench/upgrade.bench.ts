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
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDatabaseUrl } from '../../ops/lib/connection.js';
import { findBackup, KNOWN_ENV } from '../../ops/lib/index.js';
import { withClient } from '../../ops/lib/pg.js';
import { runCli } from '../support/cli.js';
import { removeAll, requireTestImage, requireTestImageWith, uniqueName } from '../support/docker.js';
import { freePort } from '../support/nativeCluster.js';
import { createContainer, createVolumeAndNetwork, declare, deleteContainer, firstDeploy, runCommand, type CommandRun, type DeclaredStack } from '../support/stackOnEngine.js';

const OLD = 'timescale/timescaledb:2.22.1-pg15';
const MID = 'timescale/timescaledb:2.28.3-pg15';
const NEW = 'timescale/timescaledb:2.29.2-pg17';
const devices = process.env.BENCH_UPGRADE_DEVICES ?? '10';
const days = process.env.BENCH_UPGRADE_DAYS ?? '30';
const log = (line: string) => process.stderr.write(`${line}\n`);
const seconds = (since: number) => (performance.now() - since) / 1000;
const PRE_UPGRADE_LINE = /^pre-upgrade backup (\S+) taken and drilled on the running server$/;
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

/** A step's failure with everything it printed: the post-deploy step's own message is its last stderr line. */
function failed(step: string, run: CommandRun): Error {
  return new Error(`${step} failed (exit ${run.exitCode})\n--- stderr ---\n${run.stderr || '(empty)'}\n--- stdout ---\n${run.stdout || '(empty)'}`);
}

/** `docker exec` with stdin from / stdout to a file; resolves with the exit code and stderr (also echoed). */
function dockerExec(args: string[], io: { stdinFile?: string; stdoutFile?: string }): Promise<CommandRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', ['exec', ...(io.stdinFile ? ['-i'] : []), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
      process.stderr.write(c);
    });
    if (io.stdinFile) createReadStream(io.stdinFile).pipe(child.stdin);
    else child.stdin.end();
    // Resolve only once the file is flushed, so its size below is the dump's.
    const written = io.stdoutFile ? new Promise<void>((done, fail) => child.stdout.pipe(createWriteStream(io.stdoutFile!)).on('finish', done).on('error', fail)) : (child.stdout.resume(), Promise.resolve());
    child.on('error', reject);
    child.on('close', (code) => void written.then(() => resolve({ exitCode: code ?? -1, stdout: '', stderr: stderr.trim() }), reject));
  });
}

async function main(): Promise<void> {
  const images: Record<string, string> = { [OLD]: requireTestImage(), [MID]: requireTestImageWith('15', ['2.22.1', '2.28.3']), [NEW]: requireTestImageWith('17', ['2.22.1', '2.28.3', '2.29.2']) };
  // The post-deploy and pre-upgrade steps inherit this environment, and the CLI refuses AETHERLENS_*
  // variables it does not know (AETHERLENS_VENDOR_DIR, which only the image build reads, above).
  for (const key of Object.keys(process.env)) if (key.startsWith('AETHERLENS_') && !(KNOWN_ENV as readonly string[]).includes(key)) delete process.env[key];
  const imageFor = (declared: string) => {
    const image = images[declared];
    if (!image) throw new Error(`the stack declares ${declared}; only ${Object.keys(images).join(', ')} have local stand-ins`);
    return image;
  };
  const name = uniqueName('aetherlens-bench-upgrade');
  const manual = uniqueName('aetherlens-bench-manual');
  const work = await mkdtemp(join(tmpdir(), 'aetherlens-bench-upgrade-'));
  const backupDir = join(work, 'backups');
  // Everything the engine holds for this run, from the declared stacks (volume names follow the majors).
  const made = { containers: new Set([name, manual]), networks: new Set([`${name}-net`, `${manual}-net`]), volumes: new Set([`${name}-data`, `${name}-data-pg17`, `${manual}-data`, `${manual}-data-pg17`]) };
  const remember = (s: DeclaredStack) => {
    made.containers.add(String(s.container.name));
    made.networks.add(String(s.network.name));
    for (const v of s.volumes) made.volumes.add(String(v.name));
  };
  let cleaned: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaned ??= (async () => {
      await removeAll({ containers: [...made.containers], networks: [...made.networks], volumes: [...made.volumes] });
      await rm(work, { recursive: true, force: true });
    })());
  // Ctrl-C or a kill skips `finally`: clean up there too, then exit as the signal would.
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: removing the bench's containers, volumes, networks and ${work}`);
    void cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const raw = { dbPassword: `Pw-${Math.random().toString(36).slice(2)}`, hostPort: String(await freePort()), containerName: name, volumeName: `${name}-data`, memoryMb: '1024', cpus: '2', backupDir, sampleData: 'false' };
  const rows: [string, number, string][] = [];
  try {
    log(`first deploy at ${OLD} (load ${load()})`);
    let stack: DeclaredStack = await declare({ ...raw, image: OLD });
    remember(stack);
    const first = await firstDeploy(stack, imageFor);
    if (!first.postDeploy) throw failed('first deploy: pre-upgrade', first.preUpgrade);
    if (first.postDeploy.exitCode !== 0) throw failed('first deploy: post-deploy', first.postDeploy);
    log(`seeding ${devices} devices × ${days} days of 1-minute readings`);
    const seeded = await runCli(['seed', '--devices', devices, '--days', days, '--interval', '1m'], { DATABASE_URL: stack.connectionString }, { timeoutMs: 3_600_000 });
    if (seeded.exitCode !== 0) throw failed('seed', seeded);
    const size = await withClient(parseDatabaseUrl(stack.connectionString, 'connectionString'), async (c) => (await c.query<{ s: string }>(`SELECT pg_size_pretty(pg_database_size(current_database())) AS s`)).rows[0]!.s);
    log(`database ${size}`);

    /** One move through the stack: pre-upgrade step, replacement, post-deploy. */
    const move = async (image: string, label: string) => {
      stack = await declare({ ...raw, image });
      remember(stack);
      log(`${label}: pre-upgrade backup + drill (load ${load()})`);
      let t = performance.now();
      const pre = await runCommand(stack, {}, 'preUpgrade');
      if (pre.exitCode !== 0) throw failed(`${label}: pre-upgrade`, pre);
      const backupSeconds = seconds(t);
      log(`  ${pre.stdout}`);
      const id = PRE_UPGRADE_LINE.exec(pre.stdout)?.[1];
      if (!id) throw failed(`${label}: pre-upgrade (no backup named on stdout)`, pre);
      // Where the pre-upgrade step's time goes, as the backup recorded it (the post-deploy drill overwrites the verification).
      const taken = (await findBackup(backupDir, id)).manifest!;
      await createVolumeAndNetwork(stack);
      log(`${label}: replace the container, then post-deploy (load ${load()})`);
      t = performance.now();
      await deleteContainer(stack);
      await createContainer(stack, imageFor);
      const healthy = seconds(t);
      const post = await runCommand(stack);
      if (post.exitCode !== 0) throw failed(`${label}: post-deploy`, post);
      const down = seconds(t);
      const after = (await findBackup(backupDir, id)).manifest!.verification;
      const detail = {
        backup: taken.durationSeconds,
        dump: taken.timings.dump,
        drill: taken.verification?.seconds ?? NaN,
        drillAgain: after && after.verifiedAt !== taken.verification?.verifiedAt ? after.seconds : NaN,
        dumpMb: taken.dump.bytes / 1e6,
      };
      return { label, backupSeconds, healthy, down, detail };
    };
    log('minor path');
    const minor = await move(MID, 'minor 2.22.1-pg15 → 2.28.3-pg15');

    // The baseline by hand, from the same 2.28.3-pg15 server, before the stack moves.
    log(`baseline: pg_dump | pg_restore by hand into a new PostgreSQL 17 container (load ${load()})`);
    const dump = join(work, 'by-hand.dump');
    const manualStack = await declare({ image: NEW, dbPassword: raw.dbPassword, hostPort: String(await freePort()), containerName: manual, volumeName: `${manual}-data`, memoryMb: '1024', cpus: '2', sampleData: 'false' });
    remember(manualStack);
    const t0 = performance.now();
    const dumped = await dockerExec([name, 'pg_dump', '-Fc', '-Z', '1', '-U', 'aetherlens', '-d', 'aetherlens'], { stdoutFile: dump });
    if (dumped.exitCode !== 0) throw failed('by hand: pg_dump', dumped);
    const dumpSeconds = seconds(t0);
    let t = performance.now();
    await createVolumeAndNetwork(manualStack);
    await createContainer(manualStack, imageFor);
    const startSeconds = seconds(t);
    t = performance.now();
    const manualDb = parseDatabaseUrl(manualStack.connectionString, 'connectionString');
    await withClient(manualDb, async (c) => {
      // The stack's init scripts may have made them already; pg_restore needs them for its GRANTs.
      for (const role of ['aetherlens_app', 'aetherlens_readonly', 'aetherlens_backup']) await c.query(`DO $$ BEGIN CREATE ROLE ${role} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
      await c.query('CREATE DATABASE restored TEMPLATE template0');
    }, 'postgres');
    await withClient(manualDb, async (c) => {
      await c.query(`CREATE EXTENSION timescaledb VERSION '2.28.3'`);
      await c.query('SELECT timescaledb_pre_restore()');
    }, 'restored');
    const restored = await dockerExec([manual, 'pg_restore', '-U', 'aetherlens', '-d', 'restored'], { stdinFile: dump });
    if (restored.exitCode !== 0) throw failed('by hand: pg_restore', restored);
    await withClient(manualDb, (c) => c.query('SELECT timescaledb_post_restore()'), 'restored');
    await withClient(manualDb, (c) => c.query('ALTER EXTENSION timescaledb UPDATE'), 'restored');
    const restoreSeconds = seconds(t);
    const manualDown = dumpSeconds + startSeconds + restoreSeconds;
    const dumpMb = (await stat(dump)).size / 1e6;
    // The baseline's container is done: free its CPU and memory before the major path runs.
    await removeAll({ containers: [manual], networks: [`${manual}-net`], volumes: [...manualStack.volumes.map((v) => String(v.name))] });

    log('major path');
    const major = await move(NEW, 'major 2.28.3-pg15 → 2.29.2-pg17');
    const loadAtEnd = load();
    // For scale: each step starts the CLI (TypeScript through tsx) three times.
    t = performance.now();
    const help = await runCli(['--help']);
    if (help.exitCode !== 0) throw failed('aetherlens-db --help', help);
    const cliStart = seconds(t);

    const ratio = (s: number) => `${(s / manualDown).toFixed(2)}× by hand`;
    for (const m of [minor, major]) {
      rows.push([`${m.label}: pre-upgrade backup + drill (server still up)`, m.backupSeconds, '']);
      rows.push([`  of which: backup (${m.detail.dumpMb.toFixed(1)} MB dump; pg_dump ${m.detail.dump.toFixed(1)} s)`, m.detail.backup, '']);
      rows.push(['  of which: drill on the old server', m.detail.drill, '']);
      rows.push([`${m.label}: downtime to the new container healthy`, m.healthy, '']);
      rows.push([`${m.label}: downtime to post-deploy done`, m.down, `downtime ${ratio(m.down)}`]);
      rows.push(['  of which: post-deploy (upgrade, migrate, status)', m.down - m.healthy, '']);
      rows.push(['  of which: the backup drilled again by upgrade, on the new server', m.detail.drillAgain, '']);
      rows.push([`${m.label}: whole pulumi up (backup + drill + downtime)`, m.backupSeconds + m.down, `total ${ratio(m.backupSeconds + m.down)}`]);
    }
    rows.push([`by hand: pg_dump -Fc -Z1 (${dumpMb.toFixed(1)} MB)`, dumpSeconds, '']);
    rows.push(['by hand: new PostgreSQL 17 container healthy', startSeconds, '']);
    rows.push(['by hand: pg_restore at 2.28.3 + update to 2.29.2', restoreSeconds, '']);
    rows.push(['by hand: downtime (dump start → restore done)', manualDown, 'baseline (1.00×)']);
    rows.push(['for scale: one aetherlens-db start (--help); each step starts it 3 times', cliStart, '']);

    process.stdout.write(`upgrade paths, database ${size}, ${devices} devices × ${days} days of 1-minute readings, load average at the end ${loadAtEnd}\n`);
    for (const [what, s, note] of rows) process.stdout.write(`${what.padEnd(72)} ${(Number.isNaN(s) ? '—' : s.toFixed(1)).padStart(7)} s  ${note}\n`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanUp();
  }
}

await main();
