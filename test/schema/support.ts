import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import type { EmbeddedEngine } from '../../ops/lib/embedded/engine.js';
import { openEmbeddedTarget, type EmbeddedTarget } from '../../ops/lib/targets/embedded/target.js';
import { migrate } from '../../ops/lib/index.js';
import { connect } from '../../ops/lib/pg.js';
import { startNativeCluster, type NativeCluster } from '../support/nativeCluster.js';
import { serverTargetOf } from '../support/targets.js';

/** One embedded engine per test file, in a throwaway directory, with one client (its only connection). */
export interface TestEngine {
  /** The embedded target that holds the engine (what library operations take). */
  target: EmbeddedTarget;
  engine: EmbeddedEngine;
  client: pg.Client;
  close(): Promise<void>;
}

export async function openTestEngine(): Promise<TestEngine> {
  const dir = await mkdtemp(join(tmpdir(), 'aetherlens-emb-'));
  const target = await openEmbeddedTarget({ dataDir: dir, command: 'test' });
  const engine = target.engine!;
  const client = await connect(engine.info);
  await client.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
  return {
    target,
    engine,
    client,
    async close() {
      await client.end().catch(() => {});
      await target.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A native cluster (the community edition) migrated to the head by the real runner, and one superuser client. */
export interface TestServer {
  cluster: NativeCluster;
  client: pg.Client;
  close(): Promise<void>;
}

export async function openMigratedServer(): Promise<TestServer> {
  const cluster = await startNativeCluster();
  try {
    await migrate({ target: await serverTargetOf(cluster.info) });
    const client = await connect(cluster.info);
    return {
      cluster,
      client,
      async close() {
        await client.end().catch(() => {});
        await cluster.stop();
      },
    };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

/** Runs `fn` as another role on the same session, always switching back. */
export async function asRole<T>(client: pg.Client, role: string, fn: () => Promise<T>): Promise<T> {
  await client.query(`SET ROLE ${role}`);
  try {
    return await fn();
  } finally {
    await client.query('RESET ROLE');
  }
}

/** The SQLSTATE a statement fails with, or 'ok'. Rolls back to a savepoint so the session stays usable. */
export async function sqlState(client: pg.Client, sql: string, values: unknown[] = []): Promise<string> {
  await client.query('BEGIN');
  try {
    await client.query(sql, values);
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? 'error';
  } finally {
    await client.query('ROLLBACK');
  }
}
