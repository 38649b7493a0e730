// The shipped job scripts end to end on the embedded target (PGlite + TimescaleDB), each run as
// `aetherlens-db job run NAME` in a child process: the nightly backup job on the real schema with
// seed data leaves a verified, rotated catalog; drill re-proves it; policies runs the due
// TimescaleDB policy jobs the engine has no background workers for, and none the second time.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { listCatalog } from '../../ops/lib/backup/catalog.js';
import { silentLogger } from '../../ops/lib/logger.js';
import { migrate } from '../../ops/lib/migrations/runner.js';
import { seed } from '../../ops/lib/seed/index.js';
import { withTarget } from '../../ops/lib/targets/open.js';
import { runCli } from '../support/cli.js';

const resultOf = (stdout: string) => JSON.parse(stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1) ?? 'null') as Record<string, unknown> & { steps: Array<Record<string, unknown>> };

describe('the shipped job scripts on the embedded target', () => {
  let dataDir: string;
  let dir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'job-emb-'));
    dir = await mkdtemp(join(tmpdir(), 'job-emb-backups-'));
    // The real schema with ten days of hourly readings ending before now, so compression is due.
    await withTarget({ kind: 'embedded', dataDir }, 'test setup', async (target) => {
      await migrate({ target: target, logger: silentLogger });
      await seed(target, { days: 10, interval: '1h', adminPassword: 'a long test password 1234' }, silentLogger);
    });
  }, 300_000);
  const env = (extra: Record<string, string> = {}) => ({ AETHERLENS_EMBEDDED_DIR: dataDir, AETHERLENS_BACKUP_DIR: dir, ...extra });

  test('policies: the due policy jobs run; the next run finds none due', async () => {
    const first = await runCli(['job', 'run', 'policies'], env(), { timeoutMs: 300_000 });
    expect(first.exitCode, first.stderr).toBe(0);
    expect(resultOf(first.stdout).steps[0]).toMatchObject({ step: 'jobs', verdict: 'ok' });
    expect(Number(resultOf(first.stdout).steps[0]!.jobsRan)).toBeGreaterThan(0);
    const second = resultOf((await runCli(['job', 'run', 'policies'], env(), { timeoutMs: 300_000 })).stdout);
    expect(second.steps[0]).toMatchObject({ step: 'jobs', verdict: 'ok', jobsRan: 0 });
  }, 600_000);

  test('backup, twice: backup → drill → rotate each time; one verified backup is left; drill then re-proves it', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await runCli(['job', 'run', 'backup'], env(), { timeoutMs: 600_000 });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(resultOf(r.stdout).steps.map((s) => `${String(s.step)} ${String(s.verdict)}`)).toEqual(['backup ok', 'drill ok', 'rotate ok']);
    }
    const catalog = await listCatalog(dir);
    expect(catalog.map((e) => e.status)).toEqual(['verified']);
    const drill = await runCli(['job', 'run', 'drill'], env({ AETHERLENS_DRILL_MIN_AGE_HOURS: '0' }), { timeoutMs: 600_000 });
    expect(drill.exitCode, drill.stderr).toBe(0);
    expect(resultOf(drill.stdout).steps).toEqual([expect.objectContaining({ step: 'drill', verdict: 'ok', backup: catalog[0]!.id, mismatches: 0 })]);
  }, 1_200_000);
});
