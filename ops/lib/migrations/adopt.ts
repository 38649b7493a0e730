import { OpsError } from '../errors.js';
import type { Target } from '../targets/types.js';
import { silentLogger, type Logger } from '../logger.js';
import { withClient, withTransaction } from '../pg.js';
import { assertTimescaleUsable, inspectTimescale } from '../timescale.js';
import { loadMigrations } from './files.js';
import { ensureLedger, readLedger, recordMigration } from './ledger.js';
import { withAdvisoryLock } from './lock.js';
import { splitStatements } from './splitter.js';

/** What migrations promise to leave behind, read from their parse trees. */
export interface Expectations {
  tables: string[];
  /** Tables turned into hypertables by create_hypertable('name', ...). */
  hypertables: string[];
  indexes: string[];
  /** Continuous aggregates (CREATE MATERIALIZED VIEW). */
  continuousAggregates: string[];
  /** Plain views (CREATE VIEW). */
  views: string[];
  /** [policy procedure, relation] pairs, from add_*_policy('relation', ...) calls. */
  policies: [string, string][];
}

const POLICY_PROCS: Record<string, string> = {
  add_compression_policy: 'policy_compression',
  add_retention_policy: 'policy_retention',
  add_continuous_aggregate_policy: 'policy_refresh_continuous_aggregate',
};

function walk(node: unknown, visit: (key: string, value: Record<string, unknown>) => void): void {
  if (Array.isArray(node)) return node.forEach((n) => walk(n, visit));
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) visit(key, value as Record<string, unknown>);
    walk(value, visit);
  }
}

const bare = (name: string) => name.replace(/^public\./, '');

/** Reads the objects a migration file creates from its statements' parse trees. */
export async function expectationsOf(sql: string): Promise<Expectations> {
  const e: Expectations = { tables: [], hypertables: [], indexes: [], continuousAggregates: [], views: [], policies: [] };
  for (const { node } of await splitStatements(sql)) {
    walk(node, (key, value) => {
      const rel = (v: unknown) => (v as { relname?: string } | undefined)?.relname;
      if (key === 'CreateStmt' && rel(value.relation)) e.tables.push(rel(value.relation)!);
      if (key === 'ViewStmt' && rel(value.view)) e.views.push(rel(value.view)!);
      if (key === 'CreateTableAsStmt' && rel((value.into as { rel?: unknown })?.rel)) e.continuousAggregates.push(rel((value.into as { rel?: unknown }).rel)!);
      if (key === 'IndexStmt' && typeof value.idxname === 'string') e.indexes.push(value.idxname);
      if (key === 'FuncCall') {
        const name = (value.funcname as { String?: { sval?: string } }[] | undefined)?.at(-1)?.String?.sval ?? '';
        const first = (value.args as { A_Const?: { sval?: { sval?: string } } }[] | undefined)?.[0]?.A_Const?.sval?.sval;
        if (!first) return;
        if (POLICY_PROCS[name]) e.policies.push([POLICY_PROCS[name]!, bare(first)]);
        if (name === 'create_hypertable') e.hypertables.push(bare(first));
      }
    });
  }
  return e;
}

/** The union of what a list of migration files promises. */
export async function expectationsOfAll(sqls: readonly string[]): Promise<Expectations> {
  const all: Expectations = { tables: [], hypertables: [], indexes: [], continuousAggregates: [], views: [], policies: [] };
  for (const sql of sqls) {
    const e = await expectationsOf(sql);
    all.tables.push(...e.tables);
    all.hypertables.push(...e.hypertables);
    all.indexes.push(...e.indexes);
    all.continuousAggregates.push(...e.continuousAggregates);
    all.views.push(...e.views);
    all.policies.push(...e.policies);
  }
  return all;
}

/**
 * Adopts a database built by the original hand-run SQL scripts: checks that every relation and
 * policy migrations 1..`to` create is present, then records them in the ledger as adopted.
 * Refuses, naming what is missing, rather than record something that is not there.
 */
export async function adopt(options: { target: Target; to: number; migrationsDir?: string; logger?: Logger }): Promise<{ adopted: number[] }> {
  const logger = options.logger ?? silentLogger;
  const files = (await loadMigrations(options.migrationsDir)).filter((f) => f.version <= options.to);
  if (!files.some((f) => f.version === options.to)) throw new OpsError('USAGE', `--to ${options.to} is not a migration version`);
  return withClient(options.target.connection, async (client) => {
    assertTimescaleUsable(await inspectTimescale(client, options.target));
    if ((await readLedger(client)).length > 0) throw new OpsError('USAGE', 'this database already has a migration ledger: nothing to adopt (use `aetherlens-db status`)');
    const missing: string[] = [];
    for (const file of files) {
      const expected = await expectationsOf(file.sql);
      for (const relation of [...expected.tables, ...expected.indexes, ...expected.continuousAggregates, ...expected.views]) {
        const { rows } = await client.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`public.${relation}`]);
        if (rows[0]?.t == null) missing.push(`${relation} (${file.fileName})`);
      }
      for (const [proc, relation] of expected.policies) {
        const { rows } = await client.query('SELECT 1 FROM timescaledb_information.jobs WHERE proc_name = $1 AND hypertable_name = $2', [proc, relation]);
        if (rows.length === 0) missing.push(`${proc} on ${relation} (${file.fileName})`);
      }
    }
    if (missing.length) {
      throw new OpsError('MIGRATION', `cannot adopt up to ${options.to}: missing ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}; adopt a lower version, or bring the database to what those files build (docs/schema.md) first; nothing was changed`);
    }
    return await withAdvisoryLock(client, 60_000, () => withTransaction(client, async () => {
      await ensureLedger(client);
      for (const file of files) {
        await recordMigration(client, { version: file.version, name: file.name, checksum: file.checksum, execution_ms: 0, success: true, adopted: true });
        logger.info(`adopted ${file.fileName}`);
      }
      return { adopted: files.map((f) => f.version) };
    }));
  });
}
