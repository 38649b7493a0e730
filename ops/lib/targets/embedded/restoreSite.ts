import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { isOpsError, OpsError } from '../../errors.js';
import { acquireLock, isProcessAlive, lockHolder, type HeldLock } from '../../fileLock.js';
import type { Logger } from '../../logger.js';
import { quoteIdent } from '../../pg.js';
import { openEmbeddedEngine, type EmbeddedEngine } from '../../embedded/engine.js';
import { embeddedPaths, ENGINE_PG_MAJOR, hasDatabase, POINTER_FILE } from '../../embedded/layout.js';
import { cleanSwapLeftovers, swapPgdataIn, SWAP_STEPS } from '../../embedded/swap.js';
import { pgliteSqlClient } from '../sqlClient.js';
import { restoreStamp, type ScratchPurpose } from '../names.js';
import { createRoleStatements, missingRoles } from '../roles.js';
import type { PreparedScratch, RestoreSite, ScratchCopy, SiteFacts, SwapResult } from '../restoreSite.js';
import { loadSqlDump } from './sqlLoad.js';
import { embeddedBackupLockKey } from './identity.js';

/** Marks a scratch data directory as ours, with who made it, so a later run can clean it up. */
export const SCRATCH_FILE = 'aetherlens-scratch.json';

const SCRATCH_DIR = /^(.*)\.(drill|restore)_(\d{8}_\d{6})$/;

async function writeScratchMarker(scratch: string, purpose: ScratchPurpose, backup?: string): Promise<void> {
  const owner = { purpose, pid: process.pid, host: hostname(), since: new Date().toISOString(), ...(backup ? { backup } : {}) };
  await writeFile(join(scratch, SCRATCH_FILE), `${JSON.stringify(owner)}\n`, { mode: 0o600 });
}

/** Single quotes for a shell, for the commands we print. */
const sh = (path: string) => `'${path.replace(/'/g, `'\\''`)}'`;

/** The points of an embedded swap, in order: the copy's engine closed, the PGDATA swap (embedded/swap.ts), the scratch directory gone. */
export const EMBEDDED_SWAP_STEPS = ['closed', ...SWAP_STEPS, 'scratch-removed'] as const;
export type EmbeddedSwapStep = (typeof EMBEDDED_SWAP_STEPS)[number];

/**
 * Shell steps that undo a swap and that delete the kept PGDATA. Rollback points the root back at
 * the previous PGDATA (a rename, as the swap did). Drop deletes it only while the restored one is
 * live, so running it after a rollback removes nothing.
 */
export function embeddedSwapSteps(root: string, previous: string, restored: string): { rollback: string[]; drop: string[] } {
  const pointer = join(root, POINTER_FILE);
  const temp = `${pointer}.rollback`;
  const kept = join(root, previous);
  return {
    rollback: [`printf '%s\\n' ${sh(previous)} > ${sh(temp)} && mv -f ${sh(temp)} ${sh(pointer)}`],
    drop: [`if grep -qxF ${sh(restored)} ${sh(pointer)}; then rm -rf ${sh(kept)}; else echo ${sh(`${kept} is live (rolled back): not removed`)} >&2; fi`],
  };
}

async function engineFacts(engine: EmbeddedEngine): Promise<SiteFacts> {
  const row = (await engine.db.query<{ server: string; license: string | null }>(
    `SELECT current_setting('server_version') AS server, current_setting('timescaledb.license', true) AS license`)).rows[0]!;
  const versions = (await engine.db.query<{ version: string }>(`SELECT version FROM pg_available_extension_versions WHERE name = 'timescaledb'`)).rows.map((r) => r.version);
  return {
    serverVersion: row.server.split(' ')[0]!,
    serverMajor: Number(ENGINE_PG_MAJOR),
    timescaleVersions: versions,
    ...(row.license ? { edition: row.license } : {}),
    dumpFormat: 'sql-gzip',
    where: 'the embedded engine of this aetherlens-db',
  };
}

function loadFailure(error: unknown, dir: string): OpsError {
  // Our own verdicts (an unreadable dump, an interrupt) pass as they are.
  if (isOpsError(error)) return error;
  const e = error as { code?: string; message?: string };
  if (e.code === '53100' || /No space left on device/i.test(e.message ?? '')) {
    return new OpsError('RESTORE', `the disk holding ${dirname(dir)} filled up during the restore (${e.message}): free space there (the restore needs about the database's size again), then run it again`, { cause: error, details: { fault: 'environment' } });
  }
  return new OpsError('RESTORE', `the embedded engine could not load the dump: ${e.message ?? String(error)}`, { cause: error, details: { fault: 'backup' } });
}

/** Whether timescaledb.restoring is set on the database itself (what a new session would get). */
async function restoringSetForDatabase(engine: EmbeddedEngine): Promise<boolean> {
  const { rows } = await engine.db.query<{ s: string }>(
    `SELECT unnest(setconfig) AS s FROM pg_db_role_setting WHERE setrole = 0 AND setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())`);
  return rows.some((r) => r.s === 'timescaledb.restoring=on');
}

export interface EmbeddedSiteOptions {
  dataDir: string;
  purpose: ScratchPurpose;
  command: string;
  /** Called after each step of a swap (EMBEDDED_SWAP_STEPS); tests interrupt the swap there. */
  onSwapStep?: (step: EmbeddedSwapStep) => Promise<void> | void;
}

/**
 * The embedded engine's data directory. A scratch copy is a new data directory beside it, opened
 * by a second in-process engine; the swap moves the copy's PGDATA into the data directory and
 * points it there (embedded/swap.ts), keeping the old PGDATA, the lock, stamp and password. A
 * restore holds the data directory's lock throughout, so `local serve` cannot open it meanwhile.
 */
export async function embeddedSite(options: EmbeddedSiteOptions): Promise<RestoreSite> {
  const paths = embeddedPaths(options.dataDir);
  const root = paths.root;
  let lock: HeldLock | undefined;
  if (options.purpose === 'restore') {
    const holder = await lockHolder(paths.lock);
    if (holder && (holder.host !== hostname() || isProcessAlive(holder.pid))) {
      throw new OpsError('LOCK_HELD', `the embedded database ${root} is open in pid ${holder.pid} (${holder.command}, since ${holder.since}${holder.port ? `, serving 127.0.0.1:${String(holder.port)}` : ''}): a restore replaces its data directory, so stop that first (aetherlens-db local stop), then run the restore again; nothing was changed`);
    }
    lock = await acquireLock(paths.lock, { command: options.command, describe: (o) => `the embedded database ${root} is open in pid ${o.pid} (${o.command}): stop it first; nothing was changed` });
  }
  // `--into DIR` replaces another data directory: it is locked like the configured one, from the
  // first look at it (its row counts) to the swap, so nothing that holds it is replaced under it.
  const intoLocks = new Map<string, HeldLock>();
  const holdLive = async (live: string) => {
    if (live === root || intoLocks.has(live)) return;
    const target = embeddedPaths(live);
    intoLocks.set(live, await acquireLock(target.lock, {
      command: options.command,
      describe: (o) => `the embedded database ${target.root} is open in pid ${o.pid} (${o.command}, since ${o.since}): restore --into replaces that directory, so stop that first (aetherlens-db local stop --embedded-dir ${sh(target.root)}), then run the restore again; nothing was changed`,
    }));
  };
  /** Leftovers of interrupted swaps inside a data directory (embedded/swap.ts says which are provably ours). */
  const cleanInside = async (dir: string, logger: Logger) => {
    const removed = await cleanSwapLeftovers(dir);
    for (const r of removed) logger.info(`removed ${r.path}, left behind by an interrupted restore${r.owner ? ` (pid ${r.owner.pid})` : ''}`);
    return removed.map((r) => r.path);
  };
  /** A new scratch data directory with its marker (who made it, so a later run can clean it up). */
  const makeScratch = async (scratch: string, purpose: ScratchPurpose, backup?: string) => {
    await mkdir(scratch, { mode: 0o700 });
    await writeScratchMarker(scratch, purpose, backup);
  };
  /** Scratch directories whose engines started ahead (prepareScratch), until restoreCopy takes them. */
  const ahead = new Map<string, { made: Promise<void>; engine: Promise<{ opened: EmbeddedEngine; ms: number }> }>();
  return {
    backupLockKey: embeddedBackupLockKey(root),
    defaultLive: root,
    // --into names a data directory.
    liveNamed: (into) => resolve(into),
    scratchName(live, purpose, now) {
      const stamp = restoreStamp(now);
      // The PGDATA live now stays where it is when the restored one is swapped in.
      return { scratch: `${live}.${purpose}_${stamp}`, previous: embeddedPaths(live).pgdata, stamp };
    },
    async cleanLeftovers(logger: Logger) {
      const parent = dirname(root);
      const removed: string[] = [];
      for (const name of await readdir(parent).catch(() => [] as string[])) {
        const match = SCRATCH_DIR.exec(name);
        if (!match || match[1] !== basename(root)) continue;
        const dir = join(parent, name);
        const owner = await readFile(join(dir, SCRATCH_FILE), 'utf8').then((t) => JSON.parse(t) as { pid: number; host: string; purpose: string }, () => undefined);
        if (!owner || owner.host !== hostname() || isProcessAlive(owner.pid)) continue;
        await rm(dir, { recursive: true, force: true });
        logger.info(`removed ${dir}, left behind by an interrupted ${owner.purpose} (pid ${owner.pid})`);
        removed.push(dir);
      }
      removed.push(...(await cleanInside(root, logger)));
      return removed;
    },
    prepareScratch(purpose, scratch): PreparedScratch {
      const since = performance.now();
      const made = makeScratch(scratch, purpose);
      // How long it took counts in the restore time (RTO) as if it had been made then.
      const engine = made.then(() => openEmbeddedEngine({ dataDir: scratch })).then((opened) => ({ opened, ms: performance.now() - since }));
      // Awaited by restoreCopy or discard(); until then a failure is only held, not reported.
      engine.catch(() => {});
      const started = { made, engine };
      ahead.set(scratch, started);
      return {
        scratch,
        async discard() {
          if (ahead.get(scratch) !== started) return;
          ahead.delete(scratch);
          // A directory of that name that was there before is not ours to remove.
          if (!(await made.then(() => true, () => false))) return;
          await engine.then((e) => e.opened.close(), () => {});
          await rm(scratch, { recursive: true, force: true }).catch(() => {});
        },
      };
    },
    async restoreCopy({ manifest, dumpPath, purpose, scratch, check, starting, signal }): Promise<ScratchCopy> {
      let started = performance.now();
      const prepared = ahead.get(scratch);
      ahead.delete(scratch);
      // Outside the try below: a directory that could not be made is not ours to remove.
      await (prepared?.made ?? makeScratch(scratch, purpose, manifest.id));
      let engine: EmbeddedEngine | undefined;
      // From the moment a swap starts, nothing but the swap touches the copy: an interrupt's
      // discard() must not delete what is being moved into place.
      let state: 'copy' | 'swapping' | 'discarded' = 'copy';
      let discarding: Promise<void> | undefined;
      const discard = (): Promise<void> => {
        if (state === 'swapping') return Promise.resolve();
        state = 'discarded';
        // Every caller (an interrupt, a finally block) waits for the one removal.
        discarding ??= (async () => {
          await engine?.close().catch(() => {});
          engine = undefined;
          await rm(scratch, { recursive: true, force: true }).catch(() => {});
        })();
        return discarding;
      };
      try {
        if (prepared) {
          const ready = await prepared.engine;
          engine = ready.opened;
          started -= ready.ms;
          await writeScratchMarker(scratch, purpose, manifest.id);
        } else {
          engine = await openEmbeddedEngine({ dataDir: scratch });
        }
        check(await engineFacts(engine));
        if (signal?.aborted) throw new OpsError('ABORTED', 'interrupted');
        const db = engine.db;
        starting?.();
        const load = performance.now();
        try {
          await db.exec('SELECT timescaledb_pre_restore()');
          await loadSqlDump({
            dumpPath,
            exec: (sql) => db.exec(sql),
            // A scratch data directory is a cluster of its own: the roles the dump grants to (which
            // the migrations created in the live one) must exist before the statements naming them.
            ensureRoles: async (roles) => {
              const missing = await missingRoles(pgliteSqlClient(db), roles);
              if (missing.length > 0) await db.exec(createRoleStatements(missing).join('\n'));
            },
            ...(signal ? { signal } : {}),
          });
          // The dump empties search_path for its own statements; the checks need the usual one.
          await db.exec(`SET search_path TO "$user", public`);
          // Restoring mode stays on for the database until finish(); this session may use everything.
          await db.exec('SET timescaledb.restoring = off');
        } catch (error) {
          throw loadFailure(error, scratch);
        }
        const phases = [{ name: 'load SQL', seconds: (performance.now() - load) / 1000 }];
        const restoreSeconds = (performance.now() - started) / 1000;
        const live = engine;
        return {
          label: `data directory ${scratch}`,
          restoreSeconds,
          phases,
          open: async () => ({ client: pgliteSqlClient(live.db), close: async () => {} }),
          async finish() {
            await live.db.exec('SELECT timescaledb_post_restore()');
            await live.db.exec(`SET search_path TO "$user", public`);
          },
          restoringOff: async () => !(await restoringSetForDatabase(live)),
          // The engine carries one TimescaleDB version: there is nothing to update to.
          updateExtension: async () => ({ database: scratch, from: manifest.versions.timescaledb, to: manifest.versions.timescaledb, seconds: 0 }),
          discard,
          swapInto: async ({ live: target, stamp, backupId, logger }): Promise<SwapResult> => {
            if (state !== 'copy') throw new OpsError('ABORTED', 'interrupted before the swap: the live database was not changed');
            state = 'swapping';
            const step = async (s: EmbeddedSwapStep) => options.onSwapStep?.(s);
            const restored = `pgdata.${stamp}`;
            let swapped: Awaited<ReturnType<typeof swapPgdataIn>>;
            try {
              await holdLive(target);
              await engine?.close();
              engine = undefined;
              await step('closed');
              await mkdir(target, { recursive: true, mode: 0o700 });
              await cleanInside(target, logger);
              swapped = await swapPgdataIn({
                root: target,
                from: join(scratch, 'pgdata'),
                name: restored,
                stampFrom: join(scratch, 'engine.json'),
                owner: { pid: process.pid, host: hostname(), since: new Date().toISOString(), backup: backupId },
                onStep: step,
              });
            } catch (error) {
              // Nothing was swapped in (swapPgdataIn took back what it moved): the copy goes.
              state = 'copy';
              throw error;
            }
            for (const warning of swapped.warnings) logger.warn(`${warning}; the restore is in place`);
            // What is left of the scratch directory: its marker and the copy's engine files.
            await rm(scratch, { recursive: true, force: true }).catch((error: Error) => logger.warn(`could not remove ${scratch} (${error.message}); the next restore or verify removes it`));
            await step('scratch-removed');
            const stepsWhere = 'in a shell, with nothing using the embedded database (aetherlens-db local stop)';
            const targetRoot = embeddedPaths(target).root;
            return swapped.previous
              ? { live: target, previous: join(targetRoot, swapped.previous), stepsWhere, ...embeddedSwapSteps(targetRoot, swapped.previous, restored), terminated: [] }
              : { live: target, stepsWhere, rollback: [], drop: [], terminated: [] };
          },
        };
      } catch (error) {
        await discard();
        throw error;
      }
    },
    async liveRowCounts(live, tables) {
      await holdLive(live);
      if (!hasDatabase(embeddedPaths(live).pgdata)) return undefined;
      const engine = await openEmbeddedEngine({ dataDir: live });
      try {
        const counts: Record<string, number> = {};
        for (const table of tables) {
          const [schema, name] = table.includes('.') ? (table.split(/\.(.*)/s) as [string, string]) : ['public', table];
          const relation = `${quoteIdent(schema)}.${quoteIdent(name)}`;
          const exists = (await engine.db.query<{ r: string | null }>(`SELECT to_regclass($1)::text AS r`, [relation])).rows[0]?.r;
          if (exists) counts[table] = Number((await engine.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${relation}`)).rows[0]!.n);
        }
        return counts;
      } finally {
        await engine.close();
      }
    },
    liveSessions: async () => [],
    async close() {
      for (const held of intoLocks.values()) await held.release();
      await lock?.release();
    },
  };
}
