// The shipped job scripts end to end on a native PostgreSQL 15 + TimescaleDB, run the way an
// operator runs them by hand (`aetherlens-db job run NAME`, a child process each): the nightly
// backup job leaves a verified, rotated catalog; the drill job re-proves the stalest backup;
// policies is a no-op on a server; an operator's job replaces a shipped one; the README's worked
// example copies the newest verified backup and fails loudly when the copy is not the backup.
import { chmod, copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { listCatalog } from '../../ops/lib/backup/catalog.js';
import { connectionUrl, type ConnectionInfo } from '../../ops/lib/connection.js';
import { SHIPPED_JOBS_DIR } from '../../ops/lib/scheduler/jobFiles.js';
import { runCli } from '../support/cli.js';
import { nativeUnavailableReason, PG_BIN, startNativeCluster, type NativeCluster } from '../support/nativeCluster.js';
import { addReadings, createSmallDatabase } from './support/fixtures.js';

const unavailable = nativeUnavailableReason();

/** The result line: the last stdout line that is a JSON object. */
const resultOf = (stdout: string) => JSON.parse(stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1) ?? 'null') as Record<string, unknown> & { steps: Array<Record<string, unknown>> };

describe.skipIf(unavailable)('the shipped job scripts on a native server', () => {
  let cluster: NativeCluster;
  let db: ConnectionInfo;
  beforeAll(async () => {
    cluster = await startNativeCluster();
    db = await createSmallDatabase(cluster.info, 'jobs_native');
  }, 180_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  const env = (dir: string, extra: Record<string, string> = {}) => ({ DATABASE_URL: connectionUrl(db), PG_BIN_DIR: PG_BIN, AETHERLENS_BACKUP_DIR: dir, ...extra });

  test('backup: a backup, its drill, then rotation; run twice, the catalog holds one verified backup', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'job-backup-'));
    const first = await runCli(['job', 'run', 'backup'], env(dir));
    expect(first.exitCode, first.stderr).toBe(0);
    const one = resultOf(first.stdout);
    expect(one.ok).toBe(true);
    expect(one.steps.map((s) => `${String(s.step)} ${String(s.verdict)}`)).toEqual(['backup ok', 'drill ok', 'rotate ok']);
    expect(one.steps[1]).toMatchObject({ backup: one.steps[0]!.backup, mismatches: 0 });
    await addReadings(db, '2026-10-23');
    const second = resultOf((await runCli(['job', 'run', 'backup'], env(dir))).stdout);
    expect(second.steps[2]).toMatchObject({ step: 'rotate', verdict: 'ok', deleted: 1, kept: 1 });
    const catalog = await listCatalog(dir);
    expect(catalog.map((e) => `${e.id} ${e.status}`)).toEqual([`${String(second.steps[0]!.backup)} verified`]);
    // The step lines came before the result, as JSON the scheduler relays.
    expect(first.stdout.split('\n').filter((l) => l.includes('"event":"step.end"'))).toHaveLength(3);
    expect(first.stdout + first.stderr).not.toContain(db.password!);
  }, 240_000);

  test('backup with the server down: the step fails with the command\'s own one-line reason, exit 1, nothing kept', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'job-down-'));
    const down = await runCli(['job', 'run', 'backup'], { ...env(dir), DATABASE_URL: connectionUrl({ ...db, port: 1 }) });
    expect(down.exitCode).toBe(1);
    const result = resultOf(down.stdout);
    expect(result).toMatchObject({ ok: false, error: 'nothing is listening at 127.0.0.1:1: start the server or fix the host/port in DATABASE_URL' });
    expect(result.steps.map((s) => s.step)).toEqual(['backup']);
    expect(down.stderr.trim().split('\n').at(-1)).toBe('error: nothing is listening at 127.0.0.1:1: start the server or fix the host/port in DATABASE_URL');
    expect(await listCatalog(dir)).toEqual([]);
  }, 120_000);

  test('drill: never-drilled backups first, then the one drilled longest ago; nothing when all were drilled recently', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'job-drill-'));
    for (let i = 0; i < 2; i++) expect((await runCli(['backup'], env(dir))).exitCode).toBe(0);
    const [older, newer] = (await listCatalog(dir)).map((e) => e.id);
    const drilled = async (extra: Record<string, string> = {}) => {
      const r = await runCli(['job', 'run', 'drill'], env(dir, extra));
      expect(r.exitCode, r.stderr).toBe(0);
      return resultOf(r.stdout);
    };
    expect((await drilled()).steps).toEqual([expect.objectContaining({ step: 'drill', verdict: 'ok', backup: older, lastDrilledAt: null })]);
    expect((await drilled()).steps).toEqual([expect.objectContaining({ step: 'drill', verdict: 'ok', backup: newer, lastDrilledAt: null })]);
    expect(await drilled()).toEqual({ ok: true, steps: [], note: 'nothing to drill: every backup was drilled recently' });
    const again = await drilled({ AETHERLENS_DRILL_MIN_AGE_HOURS: '0' });
    expect(again.steps[0]).toMatchObject({ backup: older, lastDrilledAt: expect.any(String) });
  }, 240_000);

  test('policies: a no-op on a server (its background workers run the policies)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'job-policies-'));
    const r = await runCli(['job', 'run', 'policies'], env(dir));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(resultOf(r.stdout)).toMatchObject({ ok: true, steps: [expect.objectContaining({ step: 'jobs', verdict: 'ok', jobsRan: 0 })] });
  }, 120_000);

  test('an operator job of the same name replaces the shipped one; bad scripts are one-line errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'job-own-'));
    const jobsDir = await mkdtemp(join(tmpdir(), 'job-own-scripts-'));
    await writeFile(join(jobsDir, 'drill.sh'), '#!/bin/sh\necho \'{"ok":true,"mine":true}\'\n');
    await chmod(join(jobsDir, 'drill.sh'), 0o755);
    const mine = await runCli(['job', 'run', 'drill'], env(dir, { AETHERLENS_JOBS_DIR: jobsDir }));
    expect([mine.exitCode, mine.stdout]).toEqual([0, '{"ok":true,"mine":true}']);
    const list = await runCli(['job', 'list', '--json'], { AETHERLENS_JOBS_DIR: jobsDir });
    expect(JSON.parse(list.stdout)).toEqual([
      { name: 'backup', file: join(SHIPPED_JOBS_DIR, 'backup.ts'), origin: 'shipped' },
      { name: 'drill', file: join(jobsDir, 'drill.sh'), origin: 'operator' },
      { name: 'policies', file: join(SHIPPED_JOBS_DIR, 'policies.ts'), origin: 'shipped' },
    ]);

    await writeFile(join(jobsDir, 'noexec.sh'), '#!/bin/sh\necho \'{"ok":true}\'\n');
    await writeFile(join(jobsDir, 'broken.ts'), 'const x: = 1;\nconsole.log(JSON.stringify({ ok: true }));\n');
    await writeFile(join(jobsDir, 'quiet.sh'), '#!/bin/sh\necho done\n');
    await writeFile(join(jobsDir, 'fails.sh'), '#!/bin/sh\necho "the NAS at 10.0.0.9 is not mounted: mount it" >&2\nexit 3\n');
    await writeFile(join(jobsDir, 'leaky.sh'), `#!/bin/sh\necho "connecting with ${db.password!}" >&2\nexit 1\n`);
    for (const f of ['quiet.sh', 'fails.sh', 'leaky.sh']) await chmod(join(jobsDir, f), 0o755);
    const run = (name: string) => runCli(['job', 'run', name], env(dir, { AETHERLENS_JOBS_DIR: jobsDir }));
    const unknown = await run('nosuch');
    expect([unknown.exitCode, unknown.stderr]).toEqual([2, `error: there is no job "nosuch" in ${SHIPPED_JOBS_DIR} or ${jobsDir}: the jobs are backup, broken, drill, fails, leaky, noexec, policies, quiet`]);
    const noexec = await run('noexec');
    expect([noexec.exitCode, noexec.stderr]).toEqual([2, `error: the job script ${join(jobsDir, 'noexec.sh')} is not executable: chmod +x ${join(jobsDir, 'noexec.sh')}, or name it noexec.ts to run it with node`]);
    const broken = await run('broken');
    expect(broken.exitCode).toBe(1);
    expect(broken.stderr.trim().split('\n').at(-1)).toMatch(/^error: Error: Transform failed with 1 error: \/\S+\/broken\.ts:1:9: ERROR: Unexpected "="$/);
    expect(broken.stderr).not.toMatch(/^\s+at /m);
    const quiet = await run('quiet');
    expect([quiet.exitCode, quiet.stderr.trim().split('\n').at(-1)]).toEqual([1, 'error: the job quiet exited 0 but printed no JSON result line: a job\'s last line on stdout must be a JSON object such as {"ok":true}']);
    const fails = await run('fails');
    expect([fails.exitCode, fails.stderr.trim().split('\n').at(-1)]).toEqual([1, 'error: the NAS at 10.0.0.9 is not mounted: mount it']);
    const leaky = await run('leaky');
    expect(leaky.exitCode).toBe(1);
    expect(leaky.stderr).toContain('connecting with ***');
    expect(leaky.stderr).not.toContain(db.password!);
  }, 120_000);

  test('the README\'s worked example: copies the newest verified backup and checks its sha256; a damaged source fails loudly', async () => {
    const readme = await readFile(join(import.meta.dirname, '../../README.md'), 'utf8');
    const example = await readFile(join(SHIPPED_JOBS_DIR, 'examples', 'copy-verified.mjs'), 'utf8');
    expect(readme.includes(example.trim()), 'the README shows ops/jobs/examples/copy-verified.mjs as it is').toBe(true);
    const dir = await mkdtemp(join(tmpdir(), 'job-copy-'));
    const jobsDir = await mkdtemp(join(tmpdir(), 'job-copy-scripts-'));
    const to = await mkdtemp(join(tmpdir(), 'job-copy-nas-'));
    await copyFile(join(SHIPPED_JOBS_DIR, 'examples', 'copy-verified.mjs'), join(jobsDir, 'copy-verified.mjs'));
    const run = () => runCli(['job', 'run', 'copy-verified'], env(dir, { AETHERLENS_JOBS_DIR: jobsDir, BACKUP_COPY_TO: to }));
    const none = await run();
    expect([none.exitCode, none.stderr.trim().split('\n').at(-1)]).toEqual([1, 'error: there is no verified backup to copy yet: run aetherlens-db job run backup first']);
    expect((await runCli(['job', 'run', 'backup'], env(dir))).exitCode).toBe(0);
    const [backup] = await listCatalog(dir);
    const copied = await run();
    expect(copied.exitCode, copied.stderr).toBe(0);
    expect(JSON.parse(copied.stdout)).toEqual({ ok: true, copied: backup!.id, to, sha256: backup!.manifest!.dump.sha256 });
    expect(await readFile(join(to, backup!.id, backup!.manifest!.dump.file))).toEqual(await readFile(join(backup!.path, backup!.manifest!.dump.file)));
    // The source dump is damaged after its drill (one byte, same size): the copy is not the backup, and the job says so.
    const dumpFile = join(backup!.path, backup!.manifest!.dump.file);
    const bytes = await readFile(dumpFile);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await writeFile(dumpFile, bytes);
    const damaged = await run();
    expect(damaged.exitCode).toBe(1);
    expect(damaged.stderr.trim().split('\n').at(-1)).toMatch(new RegExp(`^error: the copy ${join(to, backup!.id, backup!.manifest!.dump.file)} has sha256 [0-9a-f]{64} but the backup's manifest says ${backup!.manifest!.dump.sha256}: the copy is not the backup, do not rely on it$`));
  }, 240_000);
});
