import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { text } from 'node:stream/consumers';
import { createGunzip } from 'node:zlib';
import { OpsError } from '../errors.js';
import { acquireLock, isProcessAlive, lockHolder, ownerPath, type HeldLock } from '../fileLock.js';
import type { Logger } from '../logger.js';
import { quoteIdent } from '../pg.js';
import { openEmbeddedEngine, type EmbeddedEngine } from '../embedded/engine.js';
import { embeddedPaths, ENGINE_PG_MAJOR } from '../embedded/layout.js';
import { pgliteSqlClient } from '../targets/sqlClient.js';
import { restoreStamp, type ScratchPurpose } from './names.js';
import { createRoleStatements, missingRoles, rolesInSql } from './roles.js';
import type { RestoreSite, ScratchCopy, SiteFacts, SwapResult } from './site.js';

/** Marks a scratch data directory as ours, with who made it, so a later run can clean it up. */
export const SCRATCH_FILE = 'aetherlens-scratch.json';

const SCRATCH_DIR = /^(.*)\.(drill|restore)_(\d{8}_\d{6})$/;

/** Single quotes for a shell, for the commands we print. */
const sh = (path: string) => `'${path.replace(/'/g, `'\\''`)}'`;

/** Removes a data directory that holds nothing but the lock files of its (absent) engine. */
async function removeLockOnlyDir(dir: string, lockPath: string): Promise<void> {
  const allowed = new Set([`${basename(lockPath)}.lock`, basename(ownerPath(lockPath))]);
  const entries = await readdir(dir);
  if (entries.some((name) => !allowed.has(name))) {
    throw new OpsError('RESTORE', `${dir} holds files but no embedded database (no pgdata/PG_VERSION): move them away, then run the restore again`);
  }
  await rm(dir, { recursive: true, force: true });
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

/** The dump's SQL (gzip-compressed plain pg_dump output). */
async function readDumpSql(dumpPath: string): Promise<string> {
  try {
    return await text(createReadStream(dumpPath).pipe(createGunzip()));
  } catch (error) {
    throw new OpsError('RESTORE', `cannot read the dump ${basename(dumpPath)} (${(error as Error).message}): the file is damaged; use another backup`, { cause: error, details: { fault: 'backup' } });
  }
}

function loadFailure(error: unknown, dir: string): OpsError {
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

/**
 * The embedded engine's data directory. A scratch copy is a new data directory beside it, opened by
 * a second in-process engine; the swap renames directories, keeping the old one. A restore holds
 * the data directory's lock throughout, so `local serve` cannot open it meanwhile.
 */
export async function embeddedSite(options: { dataDir: string; purpose: ScratchPurpose; command: string }): Promise<RestoreSite> {
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
  return {
    kind: 'embedded',
    lockKey: { kind: 'embedded', label: `embedded ${root}` },
    defaultLive: root,
    scratchName(live, purpose, now) {
      const stamp = restoreStamp(now);
      return { scratch: `${live}.${purpose}_${stamp}`, previous: `${live}.pre_restore_${stamp}`, stamp };
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
      return removed;
    },
    async restoreCopy({ manifest, dumpPath, purpose, scratch, check, starting, signal }): Promise<ScratchCopy> {
      const started = performance.now();
      await mkdir(scratch, { mode: 0o700 });
      await writeFile(join(scratch, SCRATCH_FILE), `${JSON.stringify({ purpose, pid: process.pid, host: hostname(), since: new Date().toISOString(), backup: manifest.id })}\n`, { mode: 0o600 });
      let engine: EmbeddedEngine | undefined;
      const discard = async () => {
        await engine?.close().catch(() => {});
        engine = undefined;
        await rm(scratch, { recursive: true, force: true }).catch(() => {});
      };
      try {
        engine = await openEmbeddedEngine({ dataDir: scratch });
        check(await engineFacts(engine));
        const sql = await readDumpSql(dumpPath);
        if (signal?.aborted) throw new OpsError('ABORTED', 'interrupted');
        const load = performance.now();
        // A scratch data directory is a cluster of its own: the roles the dump grants to (which the
        // migrations created in the live one) must exist before it loads.
        const missing = await missingRoles(pgliteSqlClient(engine.db), rolesInSql(sql));
        if (missing.length > 0) await engine.db.exec(createRoleStatements(missing).join('\n'));
        starting?.();
        try {
          await engine.db.exec('SELECT timescaledb_pre_restore()');
          await engine.db.exec(sql);
          // The dump empties search_path for its own statements; the checks need the usual one.
          await engine.db.exec(`SET search_path TO "$user", public`);
          // Restoring mode stays on for the database until finish(); this session may use everything.
          await engine.db.exec('SET timescaledb.restoring = off');
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
          discard,
          swapInto: async ({ live: target, previous, stamp }): Promise<SwapResult> => {
            await holdLive(target);
            await engine?.close();
            engine = undefined;
            await rm(join(scratch, SCRATCH_FILE), { force: true });
            const had = existsSync(join(target, 'pgdata', 'PG_VERSION'));
            // No database there yet (a new machine): only our own lock may be in the directory.
            if (!had && existsSync(target)) await removeLockOnlyDir(target, paths.lock);
            if (had) await rename(target, previous);
            try {
              await rename(scratch, target);
            } catch (error) {
              if (had) await rename(previous, target).catch(() => {});
              throw new OpsError('RESTORE', `could not move the restored data directory into place (${(error as Error).message}); ${target} was left as it was`, { cause: error });
            }
            // The kept directory must not look held by us once we are gone.
            if (had) {
              await rm(`${join(previous, basename(paths.lock))}.lock`, { recursive: true, force: true });
              await rm(ownerPath(join(previous, basename(paths.lock))), { force: true });
            }
            const aside = `${target}.restored_${stamp}`;
            const stepsWhere = 'in a shell, with nothing using the embedded database (aetherlens-db local stop)';
            return had
              ? { live: target, previous, stepsWhere, rollback: [`mv ${sh(target)} ${sh(aside)}`, `mv ${sh(previous)} ${sh(target)}`], drop: [`rm -rf ${sh(previous)}`], terminated: [] }
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
      if (!existsSync(join(live, 'pgdata', 'PG_VERSION'))) return undefined;
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
