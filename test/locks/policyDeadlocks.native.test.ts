import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { retryingDeadlocks } from '../../ops/lib/deadlockRetry.js';
import { OpsError } from '../../ops/lib/errors.js';
import { memoryLogger, silentLogger, type Logger } from '../../ops/lib/logger.js';
import { connect, withTransaction } from '../../ops/lib/pg.js';
import { migrate, type Target } from '../../ops/lib/index.js';
import { seed } from '../../ops/lib/seed/index.js';
import { writeMigration } from '../support/migrationsFixture.js';
import { describeNative, startNativeCluster, type NativeCluster } from '../support/nativeCluster.js';
import { stopJobScheduler } from '../support/timescale.js';
import { serverTargetOf } from '../support/targets.js';

// Seed and migrate beside TimescaleDB's policy jobs, on PostgreSQL 15 with TimescaleDB 2.22.1 community.
// CI saw `seed` fail once with "deadlock detected" right after a first deploy's migrate, when the
// scheduler starts every new policy at once. A retention job locks each table its hypertable
// references, ACCESS EXCLUSIVE and in constraint-name order (devices, then rate_schedules for
// cost_calculations), even when it has nothing to drop; the seed's reference transaction takes
// rate_schedules before devices. PostgreSQL breaks such a cycle by failing one transaction
// (SQLSTATE 40P01) and asks the application to run it again: the seed must, and finish; so must
// a migration that alters those tables in that order.
// The scheduler is stopped so that each job runs only where a test runs it.
//
// Who is the victim: each waiting session checks for a cycle once, deadlock_timeout after it began
// to wait. The server's is 3 s here, so the polling below has 3 s to close the cycle even on a
// busy machine; the session that must not be the victim waits 60 s before its check, and the
// retention job checks after 1 s, before there is a cycle to find.
const DEADLOCK_TIMEOUT = '3s';

let cluster: NativeCluster;
let target: Target;
let admin: pg.Client;

beforeAll(async () => {
  cluster = await startNativeCluster({ settings: { deadlock_timeout: `'${DEADLOCK_TIMEOUT}'` } });
  target = await serverTargetOf(cluster.info);
  await migrate({ target });
  admin = await connect(cluster.info);
  await stopJobScheduler(admin);
  // Recent readings: the retention policies (90 days and more) find nothing of them to drop.
  await seed(target, {}, silentLogger);
});

afterAll(async () => {
  await admin?.end().catch(() => {});
  await cluster?.stop();
});

/** Waits until a session (the one with this pid, or running a statement that starts so) waits on a lock. */
async function waitingOnLock(session: { pid: number } | { query: string }): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { rows } = await admin.query(
      `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() AND (pid = $1 OR query LIKE $2 || '%')`,
      'pid' in session ? [session.pid, null] : [null, session.query],
    );
    if (rows[0]) return;
    if (Date.now() > deadline) throw new Error(`${JSON.stringify(session)} was not waiting on a lock after 30 s`);
    await sleep(20);
  }
}

async function costRetentionJob(): Promise<number> {
  const { rows } = await admin.query<{ id: number }>(
    `SELECT job_id AS id FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' AND hypertable_name = 'cost_calculations'`,
  );
  expect(rows).toHaveLength(1);
  return rows[0]!.id;
}

/**
 * Starts the real retention job of cost_calculations on `session` once it can take devices, and
 * returns when it holds devices and waits for rate_schedules; `job` ends with 'done' or its error.
 */
async function retentionJobHoldingDevices(session: pg.Client): Promise<{ job: Promise<string> }> {
  const id = await costRetentionJob();
  await session.query(`SET deadlock_timeout = '1s'`);
  const pid = (await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  const job = session.query('CALL run_job($1)', [id]).then(() => 'done', (error: Error) => error.message);
  await waitingOnLock({ pid });
  const { rows: held } = await admin.query<{ relation: string; mode: string }>(
    `SELECT relation::regclass::text AS relation, mode FROM pg_locks WHERE pid = $1 AND granted AND relation IN ('devices'::regclass, 'rate_schedules'::regclass)`,
    [pid],
  );
  expect(held).toEqual([{ relation: 'devices', mode: 'AccessExclusiveLock' }]);
  return { job };
}

/**
 * The real retention job of cost_calculations crossing an operation: `hold` (run in a transaction
 * on its own session) stops the operation where it has taken rate_schedules and not yet devices;
 * the job then takes devices and waits for rate_schedules; past the job's own deadlock check
 * (1 s, nothing cycles yet) the hold is released, the operation waits for devices and its check
 * finds the cycle. Returns how the operation ended, how the job ended, and the operation's warnings.
 */
async function crossedByRetentionJob<T>(hold: string, waitsIn: string, operation: (logger: Logger) => Promise<T>): Promise<{ outcome: { value: T } | { error: unknown }; job: string; warnings: string[] }> {
  const holder = await connect(cluster.info);
  const jobSession = await connect(cluster.info);
  try {
    await holder.query('BEGIN');
    await holder.query(hold);
    const logger = memoryLogger();
    const running = operation(logger).then((value) => ({ value }), (error: unknown) => ({ error }));
    await waitingOnLock({ query: waitsIn });
    const { job } = await retentionJobHoldingDevices(jobSession);
    await sleep(2_500);
    await holder.query('COMMIT');
    const outcome = await running;
    return { outcome, job: await job, warnings: logger.lines.filter((line) => line.startsWith('warning: ')) };
  } finally {
    await holder.end().catch(() => {});
    await jobSession.end().catch(() => {});
  }
}

async function counts(): Promise<{ metrics: number; cost: number; devices: number }> {
  const { rows } = await admin.query<{ metrics: number; cost: number; devices: number }>(
    `SELECT (SELECT count(*)::int FROM metrics) AS metrics, (SELECT count(*)::int FROM cost_calculations) AS cost, (SELECT count(*)::int FROM devices) AS devices`,
  );
  return rows[0]!;
}

describeNative('beside the policy jobs, a deadlock victim runs again (ops/lib/deadlockRetry.ts)', () => {
  it('the real retention job of cost_calculations crosses the reference transaction: the seed is the victim, runs it again and finishes; the job finishes too', async () => {
    expect((await admin.query<{ t: string }>("SELECT current_setting('deadlock_timeout') AS t")).rows[0]!.t).toBe(DEADLOCK_TIMEOUT);
    const before = await counts();
    // The seed upserts the first rate schedule, then waits for the second one's row.
    const { outcome, job, warnings } = await crossedByRetentionJob(
      `SELECT 1 FROM rate_schedules WHERE name = 'Flat Rate Test Plan' FOR UPDATE`,
      'INSERT INTO rate_schedules',
      (logger) => seed(target, {}, logger),
    );
    expect('error' in outcome ? String(outcome.error) : 'finished').toBe('finished');
    expect(job).toBe('done');
    expect(warnings).toEqual([expect.stringMatching(/^warning: seed: the reference rows' transaction was chosen as a deadlock victim .*; running it again \(attempt 2 of \d+\)$/)]);
    expect(await counts()).toEqual(before);
  }, 120_000);

  it('a batch that another session crosses (hypertables locked in the other order) is rolled back and written again; nothing is lost or doubled', async () => {
    const before = await counts();
    const other = await connect(cluster.info);
    try {
      // The batch deletes its range in metrics, then in cost_calculations, where it waits.
      await other.query(`SET deadlock_timeout = '60s'`);
      await other.query('BEGIN');
      await other.query('LOCK TABLE cost_calculations IN SHARE MODE');
      const logger = memoryLogger();
      const seeding = seed(target, { replace: true, sessions: 1 }, logger).then((summary) => ({ summary }), (error: unknown) => ({ error }));
      await waitingOnLock({ query: 'DELETE FROM cost_calculations' });
      // The other session now wants metrics, which the batch holds: the batch waited first, so
      // its deadlock check runs first and it is the victim.
      await other.query('LOCK TABLE metrics IN SHARE MODE');
      await other.query('COMMIT');

      const outcome = await seeding;
      expect('error' in outcome ? String(outcome.error) : 'finished').toBe('finished');
      expect('summary' in outcome && outcome.summary.writtenRows).toBe(before.metrics);
      const warnings = logger.lines.filter((line) => line.startsWith('warning: '));
      expect(warnings).toEqual([expect.stringMatching(/^warning: seed: the transaction of batch 1 \(.+\) was chosen as a deadlock victim .*; running it again \(attempt 2 of \d+\)$/)]);
      expect(await counts()).toEqual(before);
    } finally {
      await other.end().catch(() => {});
    }
  }, 120_000);

  it('a transaction that is the victim every time fails after its attempts with one line naming it and what to do', async () => {
    const victim = await connect(cluster.info);
    const other = await connect(cluster.info);
    const victimPid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await other.query(`SET deadlock_timeout = '60s'`);
    const logger = memoryLogger();
    try {
      // Each attempt locks metrics, then cost_calculations; the other session, cost_calculations
      // and then metrics, every time.
      const attempt = async () => {
        await other.query('BEGIN');
        await other.query('LOCK TABLE cost_calculations IN SHARE MODE');
        const crossing = waitingOnLock({ pid: victimPid }).then(async () => {
          await other.query('LOCK TABLE metrics IN SHARE MODE');
          await other.query('COMMIT');
        });
        try {
          return await withTransaction(victim, async () => {
            await victim.query('LOCK TABLE metrics IN ROW EXCLUSIVE MODE');
            await victim.query('LOCK TABLE cost_calculations IN ROW EXCLUSIVE MODE');
          });
        } finally {
          await crossing;
        }
      };
      const error = await retryingDeadlocks('test: the crossed transaction', attempt, { logger, attempts: 2 }).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(OpsError);
      expect((error as OpsError).code).toBe('LOCK_HELD');
      expect((error as OpsError).message).toMatchInlineSnapshot(`"test: the crossed transaction was chosen as a deadlock victim 2 times in a row: another session keeps taking the same locks in the other order (the server log names it); run the command again once that session has finished"`);
      expect(logger.lines).toEqual([expect.stringMatching(/^warning: test: the crossed transaction was chosen as a deadlock victim .*\(attempt 2 of 2\)$/)]);
    } finally {
      await victim.end().catch(() => {});
      await other.end().catch(() => {});
    }
  }, 120_000);

  it('a migration that alters rate_schedules, then devices, crossed by the retention job: the victim, it runs again whole and is applied once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aetherlens-deadlock-migrations-'));
    try {
      await cp(join(process.cwd(), 'migrations'), dir, { recursive: true });
      // plugins in the middle only lets the test hold the migration between its two tables.
      await writeMigration(dir, '007_notes.sql', 'ALTER TABLE rate_schedules ADD COLUMN note text;\nALTER TABLE plugins ADD COLUMN note text;\nALTER TABLE devices ADD COLUMN note text;\n');
      const { outcome, job, warnings } = await crossedByRetentionJob(
        'LOCK TABLE plugins IN ACCESS SHARE MODE',
        'ALTER TABLE plugins',
        (logger) => migrate({ target, migrationsDir: dir, logger }),
      );
      expect('error' in outcome ? String(outcome.error) : 'applied').toBe('applied');
      expect(job).toBe('done');
      expect(warnings).toEqual([
        expect.stringMatching(/^warning: migrate: the transaction of 007_notes\.sql \(nothing of it applied\) was chosen as a deadlock victim .*; running it again \(attempt 2 of \d+\)$/),
      ]);
      const { rows } = await admin.query<{ n: number; ledger: number }>(
        `SELECT (SELECT count(*)::int FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'note') AS n,
                (SELECT count(*)::int FROM migration_history WHERE version = 7) AS ledger`,
      );
      expect(rows[0]).toEqual({ n: 3, ledger: 1 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
