import { hostname, userInfo } from 'node:os';
import type pg from 'pg';
import { OpsError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { Target } from '../targets/types.js';
import { isDeadlockVictim, retryingDeadlocks } from '../deadlockRetry.js';
import { withClient, withTransaction } from '../pg.js';
import { assertCommunityEdition, assertTimescaleUsable, inspectTimescale, type TimescaleInfo } from '../timescale.js';
import { loadMigrations, type MigrationFile } from './files.js';
import { ensureLedger, ledgerExists, readLedger, recordMigration } from './ledger.js';
import { DEFAULT_LOCK_TIMEOUT_MS } from '../lockTimeout.js';
import { withAdvisoryLock } from './lock.js';
import { planMigrations, type MigrationState } from './plan.js';
import { lineAt, mustRunOutsideTransaction, splitStatements, SqlSyntaxError, type Statement } from './splitter.js';

export interface MigrateOptions {
  /** The open target to migrate (its connection and capabilities). */
  target: Target;
  migrationsDir?: string;
  /** Apply up to and including this version. */
  to?: number;
  /** Report the plan; change nothing. */
  dryRun?: boolean;
  /** How long to wait for another run's lock. */
  lockTimeoutMs?: number;
  /** For the ledger's applied_by (Settings.appliedBy); default: this OS user at this host. */
  appliedBy?: string;
  logger?: Logger;
}

export interface PlannedMigration {
  version: number;
  fileName: string;
  transaction: boolean;
  statements: number;
  requiresCommunity: boolean;
}

export interface MigrateResult {
  dryRun: boolean;
  planned: PlannedMigration[];
  applied: { version: number; fileName: string; ms: number }[];
  headBefore: number | null;
  head: number | null;
  edition?: string;
}

interface ParsedMigration {
  file: MigrationFile;
  statements: Statement[];
  transaction: boolean;
}

/** Parses every file before anything is sent, so a syntax error changes nothing. */
async function parseMigration(file: MigrationFile): Promise<ParsedMigration> {
  let statements: Statement[];
  try {
    statements = await splitStatements(file.sql);
  } catch (error) {
    if (error instanceof SqlSyntaxError) {
      throw new OpsError('MIGRATION', `migration ${file.fileName} has a syntax error at line ${error.line}, column ${error.column}: ${error.message}; nothing was applied`, {
        details: { file: file.path, line: error.line, column: error.column, excerpt: `${error.lineText}\n${' '.repeat(Math.max(error.column - 1, 0))}^` },
      });
    }
    throw error;
  }
  const transaction = !file.noTransaction && !statements.some((s) => mustRunOutsideTransaction(s.node));
  return { file, statements, transaction };
}

function migrationError(migration: ParsedMigration, statement: Statement, error: unknown, partial: boolean): OpsError {
  const pgError = error as { message?: string; position?: string; code?: string };
  const position = pgError.position ? Number(pgError.position) - 1 : 0;
  const where = lineAt(migration.file.sql, statement.offset + Math.max(position, 0));
  const outcome = partial
    ? 'it runs outside a transaction, so the statements before this one stay applied; fix the file and run migrate again to finish it'
    : 'nothing from this file was applied';
  return new OpsError('MIGRATION', `migration ${migration.file.fileName} failed at line ${where.line}: ${pgError.message ?? String(error)}; ${outcome}`, {
    cause: error,
    details: { file: migration.file.path, line: where.line, column: where.column, excerpt: `${where.lineText}\n${' '.repeat(Math.max(where.column - 1, 0))}^`, sqlstate: pgError.code },
  });
}

/** This OS user at this host, when the caller does not say who applies (no USER in a bare container). */
function osUserAtHost(): string {
  let user = 'aetherlens-db';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for this uid: keep the program's name.
  }
  return `${user}@${hostname()}`;
}

async function applyMigration(client: pg.Client, migration: ParsedMigration, appliedBy: string, logger: Logger): Promise<number> {
  const started = performance.now();
  const record = (success: boolean) =>
    recordMigration(client, { version: migration.file.version, name: migration.file.name, checksum: migration.file.checksum, execution_ms: Math.round(performance.now() - started), success, applied_by: appliedBy });
  if (migration.transaction) {
    // The file and its ledger row roll back together, so a deadlock victim (a policy job locked
    // the same tables in the other order) runs again from its first statement.
    await retryingDeadlocks(
      `migrate: the transaction of ${migration.file.fileName} (nothing of it applied)`,
      () => withTransaction(client, async () => {
        for (const statement of migration.statements) {
          try {
            await client.query(statement.sql);
          } catch (error) {
            if (isDeadlockVictim(error)) throw error;
            throw migrationError(migration, statement, error, false);
          }
        }
        await record(true);
      }),
      { logger },
    );
  } else {
    // One statement at a time: pg would wrap multi-statement text in one implicit transaction.
    for (const statement of migration.statements) {
      try {
        await client.query(statement.sql);
      } catch (error) {
        await record(false).catch(() => {});
        throw migrationError(migration, statement, error, migration.statements.indexOf(statement) > 0);
      }
    }
    await record(true);
  }
  const ms = Math.round(performance.now() - started);
  logger.info(`applied ${migration.file.fileName} (${ms} ms${migration.transaction ? '' : ', outside a transaction'})`);
  return ms;
}

/** Tables the original hand-run scripts created: their presence without a ledger means "adopt". */
async function looksHandBuilt(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ t: string | null }>(`SELECT to_regclass('public.devices')::text AS t`);
  return rows[0]?.t != null && !(await ledgerExists(client));
}

function requireKnownTarget(files: MigrationFile[], to: number | undefined): void {
  if (to === undefined) return;
  if (!files.some((f) => f.version === to)) {
    throw new OpsError('USAGE', `--to ${to} is not a migration version: choose one of ${files.map((f) => f.version).join(', ')}`);
  }
}

/**
 * Brings a database to the newest migration (or `to`): checks TimescaleDB and its edition, the
 * ledger for drift and ordering, parses every pending file, then applies each under the
 * migration lock, each in its own transaction unless it cannot be.
 */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const logger = options.logger ?? silentLogger;
  const files = await loadMigrations(options.migrationsDir);
  requireKnownTarget(files, options.to);
  return withClient(options.target.connection, async (client) => {
    const timescale = await inspectTimescale(client, options.target);
    assertTimescaleUsable(timescale);
    if (await looksHandBuilt(client)) {
      throw new OpsError('MIGRATION', 'this database already has AetherLens tables but no migration ledger (built by the hand-run scripts?): run `aetherlens-db adopt --to VERSION` to record what it has, then migrate; nothing was changed');
    }
    const first = await planFor(client, files, options.to, timescale);
    const headBefore = first.head;
    if (options.dryRun) return { dryRun: true, planned: first.parsed.map(describePlanned), applied: [], headBefore, head: headBefore, ...edition(timescale) };

    return await withAdvisoryLock(client, options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS, async () => {
      await client.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
      await ensureLedger(client);
      // Another run may have applied files while we waited for the lock: plan again under it.
      const locked = await planFor(client, files, options.to, timescale);
      const applied: MigrateResult['applied'] = [];
      for (const migration of locked.parsed) {
        const ms = await applyMigration(client, migration, options.appliedBy ?? osUserAtHost(), logger);
        applied.push({ version: migration.file.version, fileName: migration.file.fileName, ms });
      }
      const head = applied.length ? applied[applied.length - 1]!.version : locked.head;
      if (applied.length === 0) logger.info(`nothing to apply: the database is at ${head ?? 'no migrations'}`);
      return { dryRun: false, planned: locked.parsed.map(describePlanned), applied, headBefore, head, ...edition(timescale) };
    });
  });
}

function edition(timescale: TimescaleInfo): { edition?: string } {
  return timescale.edition ? { edition: timescale.edition } : {};
}

function describePlanned(m: ParsedMigration): PlannedMigration {
  return { version: m.file.version, fileName: m.file.fileName, transaction: m.transaction, statements: m.statements.length, requiresCommunity: m.file.requiresCommunity };
}

async function planFor(client: pg.Client, files: MigrationFile[], to: number | undefined, timescale: TimescaleInfo) {
  const plan = planMigrations(files, await readLedger(client));
  if (plan.problems[0]) throw plan.problems[0];
  const pending = plan.pending.filter((f) => to === undefined || f.version <= to);
  if (to !== undefined && plan.head !== null && to < plan.head) {
    throw new OpsError('USAGE', `--to ${to} is below the applied head ${plan.head}: migrations only go forward; restore a backup to go back`);
  }
  const community = pending.find((f) => f.requiresCommunity);
  if (community) assertCommunityEdition(timescale, `migration ${community.fileName}`);
  const parsed = await Promise.all(pending.map(parseMigration));
  return { head: plan.head, parsed };
}

export interface StatusResult {
  head: number | null;
  migrations: MigrationState[];
  pending: number;
  problems: string[];
  edition?: string;
  timescaleVersion?: string;
}

/** What is applied, pending, drifted or unknown; reads only. */
export async function migrationStatus(options: { target: Target; migrationsDir?: string }): Promise<StatusResult> {
  const files = await loadMigrations(options.migrationsDir);
  return withClient(options.target.connection, async (client) => {
    const timescale = await inspectTimescale(client, options.target);
    const plan = planMigrations(files, await readLedger(client));
    return {
      head: plan.head,
      migrations: plan.states,
      pending: plan.pending.length,
      problems: plan.problems.map((p) => p.message),
      ...edition(timescale),
      ...(timescale.installedVersion ? { timescaleVersion: timescale.installedVersion } : {}),
    };
  });
}
