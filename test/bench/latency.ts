/**
 * Figure 3: query latency. Each question of queries.ts runs `warmup` times untimed, then `runs`
 * times one after another on one connection (like one API worker), as parameterised queries the
 * way node-postgres sends them; per-device questions rotate through the dataset's devices.
 * Two clocks:
 * - client: send, plan, execute, receive and parse every row, in this process. What the API sees,
 *   and what the specification's targets are judged on. On a busy machine it includes waiting
 *   for a CPU (the load average is in the table's header).
 * - server: planning + execution time as EXPLAIN (ANALYZE, TIMING OFF) reports it, the same
 *   number of runs. The goals were set from warm single queries on the engine (0.7 ms for
 *   a day of one device), so they are judged on this clock; the client clock is shown beside them.
 * - delivery: the same result rows read back from a temporary table, the same number of runs: what
 *   receiving and parsing this many rows costs the client with no query work at all. It explains
 *   the gap between the two clocks (node-postgres builds a JavaScript object per row and parses
 *   every timestamp and number), which no schema or index can close.
 * A query whose second (warm) run takes more than 250 ms gets `slowRuns` runs (the table says n).
 */
import type pg from 'pg';
import type { Logger } from '../../ops/lib/index.js';
import type { BenchRow } from './context.js';
import { QUERIES, type BenchQuery } from './queries.js';
import { measure, ms, percentile, pq, times, type Latency } from './stats.js';

export interface QueryTiming {
  query: BenchQuery;
  variant: 'raw' | 'cagg';
  client: Latency;
  server: Latency;
  /** The same rows from a temporary table: the client's floor for this result. */
  delivery: Latency;
  /** Rows the query returned on its first run. */
  rows: number;
}

export interface TimingPlan {
  /** Time the aggregate form where the query has one (community edition). */
  caggs: boolean;
  runs: number;
  warmup: number;
  /** Runs for a query whose single run takes longer than 250 ms. */
  slowRuns: number;
}

const SLOW_MS = 250;

/** Devices that have readings in the last day, for the per-device questions. */
export async function benchDevices(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ id: string }>(`SELECT DISTINCT device_id AS id FROM metrics WHERE time > now() - interval '1 day' ORDER BY 1`);
  if (rows.length === 0) throw new Error('no device has readings in the last day: the dataset must end now');
  return rows.map((r) => r.id);
}

async function serverMs(client: pg.Client, sql: string, values: unknown[]): Promise<number> {
  const { rows } = await client.query<{ 'QUERY PLAN': [{ 'Planning Time': number; 'Execution Time': number }] }>(
    `EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON) ${sql}`,
    values,
  );
  const plan = rows[0]!['QUERY PLAN'][0];
  return plan['Planning Time'] + plan['Execution Time'];
}

/** Latency of reading the query's result back from a temporary table (see the module comment). */
async function deliveryLatency(client: pg.Client, sql: string, values: unknown[], runs: number, warmup: number): Promise<Latency> {
  // CREATE TABLE AS takes no parameters: the one parameter, a device id, goes in as a literal.
  const literal = values.length ? sql.replace('$1', client.escapeLiteral(String(values[0]))) : sql;
  await client.query(`CREATE TEMPORARY TABLE bench_delivery AS ${literal}`);
  try {
    return await measure(() => client.query('SELECT * FROM bench_delivery'), runs, warmup);
  } finally {
    await client.query('DROP TABLE bench_delivery');
  }
}

async function timeOne(client: pg.Client, query: BenchQuery, sql: string, devices: readonly string[], plan: TimingPlan): Promise<Omit<QueryTiming, 'query' | 'variant'>> {
  const values = (i: number) => (query.perDevice ? [devices[(i * 7) % devices.length]] : []);
  const first = await client.query(sql, values(0));
  // The first run pays for cold caches and plans: the second one says whether the query is slow.
  const probe = performance.now();
  await client.query(sql, values(1));
  const slow = performance.now() - probe > SLOW_MS;
  const runs = slow ? Math.min(plan.runs, plan.slowRuns) : plan.runs;
  const clientLatency = await measure((i) => client.query(sql, values(i)), runs, slow ? 0 : plan.warmup);
  const server: number[] = [];
  for (let i = 0; i < runs; i++) server.push(await serverMs(client, sql, values(i)));
  server.sort((a, b) => a - b);
  return {
    client: clientLatency,
    server: { p50: percentile(server, 50), p95: percentile(server, 95), max: server[server.length - 1]!, runs },
    delivery: await deliveryLatency(client, sql, values(0), runs, slow ? 0 : plan.warmup),
    rows: first.rowCount ?? first.rows.length,
  };
}

/** Times every question: raw always; the aggregate form too when the plan says so (raw is then the baseline). */
export async function timeQueries(client: pg.Client, plan: TimingPlan, logger: Logger, label: string): Promise<QueryTiming[]> {
  const devices = await benchDevices(client);
  const out: QueryTiming[] = [];
  for (const query of QUERIES) {
    logger.info(`${label}: ${query.title}, raw`);
    out.push({ query, variant: 'raw', ...(await timeOne(client, query, query.raw, devices, plan)) });
    if (plan.caggs && query.cagg !== undefined) {
      logger.info(`${label}: ${query.title}, aggregate`);
      out.push({ query, variant: 'cagg', ...(await timeOne(client, query, query.cagg, devices, plan)) });
    }
  }
  return out;
}

const mark = (ok: boolean) => (ok ? '✓' : '✗');

/** Table rows: one per question; with an aggregate, raw on the same engine is the baseline. */
export function latencyRows(timings: readonly QueryTiming[], engine: string, where: string): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const query of QUERIES) {
    const raw = timings.find((t) => t.query === query && t.variant === 'raw');
    if (!raw) continue;
    const cagg = timings.find((t) => t.query === query && t.variant === 'cagg');
    const ours = cagg ?? raw;
    const speedup = cagg ? raw.client.p50 / cagg.client.p50 : undefined;
    const targets: string[] = [];
    const verdicts: boolean[] = [];
    if (query.specMs !== undefined) {
      const ok = ours.client.p95 < query.specMs;
      targets.push(`spec < ${query.specMs} ms ${mark(ok)}`);
      verdicts.push(ok);
    }
    if (query.goalP95Ms !== undefined) {
      if (cagg || !query.goalNeedsCagg) {
        const ok = ours.server.p95 <= query.goalP95Ms;
        targets.push(`goal p95 ≤ ${query.goalP95Ms} ms (engine): server ${mark(ok)}, client ${mark(ours.client.p95 <= query.goalP95Ms)}`);
        verdicts.push(ok);
      } else {
        targets.push(`(goal p95 ≤ ${query.goalP95Ms} ms is for the aggregate)`);
      }
    }
    if (query.goalSpeedup !== undefined && speedup !== undefined) {
      const ok = speedup >= query.goalSpeedup;
      targets.push(`goal ≥ ${query.goalSpeedup}× raw ${mark(ok)}`);
      verdicts.push(ok);
    }
    const notes = [
      `${where}, ${cagg ? 'continuous aggregate' : 'raw data'}`,
      `${ours.rows} rows`,
      `client n=${ours.client.runs}, max ${ms(ours.client.max)}; server p50 / p95 ${pq(ours.server)}`,
      `the same ${ours.rows} rows from a temporary table (receiving and parsing them alone): client p50 / p95 ${pq(ours.delivery)}`,
    ];
    if (cagg) {
      notes.push(`baseline: the raw query, n=${raw.client.runs}, server ${pq(raw.server)}; ratio of client p50s`);
      if (cagg.rows !== raw.rows) notes.push(`ROW COUNTS DIFFER: raw ${raw.rows}`);
    }
    rows.push({
      figure: `p50 / p95 (${engine}): ${query.title}`,
      ours: `${pq(ours.client)} (server ${pq(ours.server)})`,
      baseline: cagg ? `${pq(raw.client)} raw` : '—',
      ratio: speedup !== undefined ? `${times(speedup)} faster` : '—',
      target: targets.join('; ') || '—',
      verdict: verdicts.length === 0 ? 'info' : verdicts.every(Boolean) ? 'met' : 'missed',
      note: notes.join('; '),
    });
  }
  return rows;
}
