/**
 * Figure 3: query latency. Each question of queries.ts runs `warmup` times untimed, then `runs`
 * times one after another on one connection (like one API worker), as parameterised queries the
 * way node-postgres sends them; per-device questions rotate through the dataset's devices. Times
 * are client-side: send, plan, execute, receive and parse every row.
 */
import type pg from 'pg';
import type { Logger } from '../../ops/lib/index.js';
import type { BenchRow } from './context.js';
import { QUERIES, type BenchQuery } from './queries.js';
import { measure, ms, pq, times, type Latency } from './stats.js';

export interface QueryTiming {
  query: BenchQuery;
  variant: 'raw' | 'cagg';
  latency: Latency;
  /** Rows the query returned on its first run. */
  rows: number;
}

export interface TimingPlan {
  /** Time the aggregate form where the query has one (community edition). */
  caggs: boolean;
  runs: number;
  warmup: number;
  /** Runs for a raw baseline whose single run takes longer than 250 ms. */
  slowRuns: number;
}

/** Devices that have readings in the last day, for the per-device questions. */
export async function benchDevices(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ id: string }>(`SELECT DISTINCT device_id AS id FROM metrics WHERE time > now() - interval '1 day' ORDER BY 1`);
  if (rows.length === 0) throw new Error('no device has readings in the last day: the dataset must end now');
  return rows.map((r) => r.id);
}

async function timeOne(client: pg.Client, query: BenchQuery, sql: string, devices: readonly string[], runs: number, warmup: number): Promise<{ latency: Latency; rows: number }> {
  const values = (i: number) => (query.perDevice ? [devices[(i * 7) % devices.length]] : []);
  const first = await client.query(sql, values(0));
  const latency = await measure((i) => client.query(sql, values(i)), runs, warmup);
  return { latency, rows: first.rowCount ?? first.rows.length };
}

/** Times every question: raw always; the aggregate form too when the plan says so (raw is then the baseline). */
export async function timeQueries(client: pg.Client, plan: TimingPlan, logger: Logger, label: string): Promise<QueryTiming[]> {
  const devices = await benchDevices(client);
  const out: QueryTiming[] = [];
  for (const query of QUERIES) {
    const useCagg = plan.caggs && query.cagg !== undefined;
    let rawRuns = plan.runs;
    if (useCagg) {
      // A raw baseline of several seconds a run would take the whole budget: fewer runs, said in the table.
      const probe = performance.now();
      await client.query(query.raw, query.perDevice ? [devices[0]] : []);
      if (performance.now() - probe > 250) rawRuns = Math.min(plan.runs, plan.slowRuns);
    }
    logger.info(`${label}: ${query.title}, raw × ${rawRuns}`);
    out.push({ query, variant: 'raw', ...(await timeOne(client, query, query.raw, devices, rawRuns, plan.warmup)) });
    if (useCagg) {
      logger.info(`${label}: ${query.title}, aggregate × ${plan.runs}`);
      out.push({ query, variant: 'cagg', ...(await timeOne(client, query, query.cagg!, devices, plan.runs, plan.warmup)) });
    }
  }
  return out;
}

function targets(query: BenchQuery, aggregate: boolean): string {
  const parts: string[] = [];
  if (query.specMs !== undefined) parts.push(`spec < ${query.specMs} ms`);
  const goalHere = aggregate || !query.goalNeedsCagg;
  if (query.goalP95Ms !== undefined) parts.push(goalHere ? `goal p95 ≤ ${query.goalP95Ms} ms` : `(goal p95 ≤ ${query.goalP95Ms} ms is for the aggregate)`);
  if (query.goalSpeedup !== undefined && aggregate) parts.push(`goal ≥ ${query.goalSpeedup}× raw`);
  return parts.join('; ') || '—';
}

/** Table rows: one per question; with an aggregate, raw on the same engine is the baseline. */
export function latencyRows(timings: readonly QueryTiming[], where: string): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const query of QUERIES) {
    const raw = timings.find((t) => t.query === query && t.variant === 'raw');
    if (!raw) continue;
    const cagg = timings.find((t) => t.query === query && t.variant === 'cagg');
    const ours = cagg ?? raw;
    const speedup = cagg ? raw.latency.p50 / cagg.latency.p50 : undefined;
    const checks: boolean[] = [];
    if (query.specMs !== undefined) checks.push(ours.latency.p95 < query.specMs);
    if (query.goalP95Ms !== undefined && (cagg || !query.goalNeedsCagg)) checks.push(ours.latency.p95 <= query.goalP95Ms);
    if (query.goalSpeedup !== undefined && speedup !== undefined) checks.push(speedup >= query.goalSpeedup);
    const notes = [`${where}, ${cagg ? 'continuous aggregate' : 'raw data'}`, `${ours.rows} rows`, `n=${ours.latency.runs}, max ${ms(ours.latency.max)}`];
    if (cagg) {
      notes.push(`baseline raw n=${raw.latency.runs}`);
      if (cagg.rows !== raw.rows) notes.push(`ROW COUNTS DIFFER: raw ${raw.rows}`);
    }
    rows.push({
      figure: `p50 / p95: ${query.title}`,
      ours: pq(ours.latency),
      baseline: cagg ? `${pq(raw.latency)} raw` : '—',
      ratio: speedup !== undefined ? `${times(speedup)} faster` : '—',
      target: targets(query, cagg !== undefined),
      verdict: checks.length === 0 ? 'info' : checks.every(Boolean) ? 'met' : 'missed',
      note: notes.join('; '),
    });
  }
  return rows;
}
