/**
 * Loads generated readings into metrics, and prices them into cost_calculations.
 *
 * Work is split into batches of one device and whole UTC days (at most `batchRows` readings),
 * each in its own transaction: delete the batch's range, write the readings, recompute the cost
 * periods the range touches. Before writing, a batch compares the rows already there with what
 * it would write (count, and exact sums of three integer meter-unit columns): when they match, it
 * skips. So a re-run with the same options changes nothing, a run stopped half-way (AbortSignal,
 * crash) leaves only whole batches, and the next run finishes the rest. A batch that PostgreSQL
 * chose as a deadlock victim (a policy job locked the same tables in the other order) is written
 * again (deadlockRetry.ts).
 *
 * Writing: COPY FROM STDIN through pg-copy-streams (streamed in ~64 KB pieces, with backpressure)
 * on PostgreSQL servers. The embedded engine crashes on COPY FROM STDIN (its wire server refuses
 * it), so there the same rows go as INSERT ... SELECT FROM unnest(arrays) statements of up to
 * ~256 KB each (method 'insert': the embedded target's capabilities.bulkLoad).
 *
 * Sessions: on a server, batches are shared out to two sessions by default (see extraSessions).
 *
 * Cost: one row per device and period, the period being a clock hour (or the sampling interval
 * when that is longer); energy is sum(energy_milliwatt_hours) of the metrics rows in the period,
 * whatever run wrote them, priced at the schedule's price at the period's start (see rates.ts).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { OpsError } from '../errors.js';
import type { Logger } from '../logger.js';
import { retryingDeadlocks } from '../deadlockRetry.js';
import { withTransaction } from '../pg.js';
import { readings, type DeviceModel, type Reading } from './generator.js';
import type { GenerationPlan } from './options.js';
import type { Pricer } from './rates.js';

export type LoadMethod = 'copy' | 'insert';

export interface DeviceLoad {
  model: DeviceModel;
  /** How this device's energy is priced, or undefined for producers and unpriced devices. */
  pricing?: { rateScheduleId: number; price: Pricer };
}

export interface LoadOptions {
  /** COPY FROM STDIN, or INSERT batches: the target's capabilities.bulkLoad unless the caller chose. */
  method: LoadMethod;
  /** Stops cleanly between batches (and rolls back the batch in flight). */
  signal?: AbortSignal;
  /** Most readings per batch (transaction). Default 50,000. */
  batchRows?: number;
  /** Rewrite batches even when their rows already match. */
  replace?: boolean;
  /** Opens another session to the same database, so batches can be written in parallel (COPY only). */
  openSession?: () => Promise<pg.Client>;
  /** Sessions writing at once, the caller's included, when openSession is given. Default 2. */
  sessions?: number;
}

export interface LoadResult {
  method: LoadMethod;
  /** metrics rows in the window for the loaded devices (written now or already there). */
  metricsRows: number;
  /** cost_calculations rows in the window for the priced devices. */
  costRows: number;
  /** Rows written by this run. */
  writtenRows: number;
  batches: number;
  skippedBatches: number;
  /** Sessions opened to write (the caller's included). */
  sessions: number;
  seconds: number;
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** metrics' columns in meter units (migration 002), the same units as Reading's fields. */
const COLUMNS = 'time, device_id, power_deciwatts, energy_milliwatt_hours, voltage_decivolts, current_milliamps, power_factor_percent, frequency_centihertz, temperature_decicelsius, state';
/** Bytes of values per INSERT: big enough that per-statement costs vanish, small enough for WebAssembly memory. */
const INSERT_MESSAGE_BUDGET = 256_000;
const COST_PERIODS_PER_STATEMENT = 2000;
/** Measured: 2 sessions load ~40 % faster than 1 on 2 cores; more only adds contention there. */
const DEFAULT_SESSIONS = 2;
const MAX_SESSIONS = 8;

interface Batch {
  load: DeviceLoad;
  from: number;
  to: number;
  /** Starts of the cost periods the batch touches (see costPeriods). */
  periods: number[];
}

interface Fingerprint {
  rows: number;
  deciWatts: number;
  milliWattHours: number;
  deciVolts: number;
}

function plannedBatches(plan: GenerationPlan, loads: readonly DeviceLoad[], batchRows: number): Batch[] {
  const start = plan.start.getTime();
  const end = plan.end.getTime();
  const perDay = 86_400 / plan.intervalSeconds;
  const span = Math.max(1, Math.floor(batchRows / perDay)) * DAY_MS;
  const batches: Batch[] = [];
  for (const load of loads) {
    for (let edge = Math.floor(start / span) * span; edge < end; edge += span) {
      const from = Math.max(start, edge);
      const to = Math.min(end, edge + span);
      batches.push({ load, from, to, periods: costPeriods(from, to, plan.intervalSeconds) });
    }
  }
  return batches;
}

function expectedFingerprint(batch: Batch, intervalSeconds: number): Fingerprint {
  const f: Fingerprint = { rows: 0, deciWatts: 0, milliWattHours: 0, deciVolts: 0 };
  for (const r of readings(batch.load.model, batch.from, batch.to, intervalSeconds)) {
    f.rows++;
    f.deciWatts += r.deciWatts;
    f.milliWattHours += r.milliWattHours;
    f.deciVolts += r.deciVolts;
  }
  return f;
}

/** Cost periods: clock hours, or the sampling interval when it is longer (it divides a day). */
function costPeriods(from: number, to: number, intervalSeconds: number): number[] {
  const length = Math.max(HOUR_MS, intervalSeconds * 1000);
  const starts: number[] = [];
  const last = to - intervalSeconds * 1000;
  for (let p = Math.floor(from / length) * length; p <= last; p += length) starts.push(p);
  return starts;
}

/**
 * Whether the batch's rows are already there exactly. The readings are generated for the
 * comparison only when the range holds rows, so a fresh load generates each reading once.
 */
async function existingMatches(client: pg.Client, batch: Batch, intervalSeconds: number): Promise<boolean> {
  const id = batch.load.model.device.deviceId;
  const { rows } = await client.query<{ n: string; dw: string; mwh: string; dv: string }>(
    `SELECT count(*) AS n, coalesce(sum(power_deciwatts), 0)::bigint AS dw,
            coalesce(sum(energy_milliwatt_hours), 0)::bigint AS mwh, coalesce(sum(voltage_decivolts), 0)::bigint AS dv
     FROM metrics WHERE device_id = $1 AND time >= $2 AND time < $3`,
    [id, new Date(batch.from), new Date(batch.to)],
  );
  const row = rows[0]!;
  if (Number(row.n) === 0) return false;
  const expected = expectedFingerprint(batch, intervalSeconds);
  const same = Number(row.n) === expected.rows && row.dw === String(expected.deciWatts) && row.mwh === String(expected.milliWattHours) && row.dv === String(expected.deciVolts);
  if (!same || !batch.load.pricing) return same;
  const cost = await client.query<{ n: string }>('SELECT count(*) AS n FROM cost_calculations WHERE device_id = $1 AND time >= $2 AND time < $3', [
    id,
    new Date(batch.periods[0]!),
    new Date(batch.to),
  ]);
  return Number(cost.rows[0]!.n) === batch.periods.length;
}

const TWO = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));

/** timestamptz text for COPY; the date part is cached per UTC day. */
let dayPrefix = { day: Number.NaN, text: '' };
function copyTime(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  if (day !== dayPrefix.day) dayPrefix = { day, text: new Date(day * DAY_MS).toISOString().slice(0, 11) };
  const s = Math.floor((ms - day * DAY_MS) / 1000);
  return `${dayPrefix.text}${TWO[Math.floor(s / 3600)]}:${TWO[Math.floor(s / 60) % 60]}:${TWO[s % 60]}Z`;
}

function copyLine(id: string, r: Reading): string {
  const pf = r.centiPowerFactor === null ? '\\N' : r.centiPowerFactor;
  const temp = r.deciCelsius === null ? '\\N' : r.deciCelsius;
  return `${copyTime(r.time)}\t${id}\t${r.deciWatts}\t${r.milliWattHours}\t${r.deciVolts}\t${r.milliAmps}\t${pf}\t${r.centiHertz}\t${temp}\t${r.state}\n`;
}

/** The batch as COPY text in ~64 KB pieces; device ids match [a-z0-9._-], so nothing needs escaping. */
function* copyChunks(batch: Batch, intervalSeconds: number, count: { rows: number }): Generator<string> {
  const id = batch.load.model.device.deviceId;
  let chunk = '';
  for (const r of readings(batch.load.model, batch.from, batch.to, intervalSeconds)) {
    count.rows++;
    chunk += copyLine(id, r);
    if (chunk.length >= 65_536) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/** Returns the number of readings written. */
async function writeByCopy(client: pg.Client, batch: Batch, intervalSeconds: number, signal?: AbortSignal): Promise<number> {
  const count = { rows: 0 };
  const stream = client.query(copyFrom(`COPY metrics (${COLUMNS}) FROM STDIN`));
  await pipeline(Readable.from(copyChunks(batch, intervalSeconds, count)), stream, ...(signal ? [{ signal }] : []));
  return count.rows;
}

/** Readings are evenly spaced, so times are computed server-side: only values travel. Returns the number written. */
async function writeByInsert(client: pg.Client, batch: Batch, intervalSeconds: number, signal?: AbortSignal): Promise<number> {
  const id = batch.load.model.device.deviceId;
  const cols: (number | string | null)[][] = [[], [], [], [], [], [], [], []];
  let first = batch.from;
  let bytes = 0;
  let written = 0;
  const flush = async () => {
    if (cols[0]!.length === 0) return;
    if (signal?.aborted) throw signal.reason;
    await client.query(
      `INSERT INTO metrics (${COLUMNS})
       SELECT $1::timestamptz + (v.n - 1) * $2::interval, $3, v.p, v.e, v.v, v.c, v.pf, v.f, v.t, v.s
       FROM unnest($4::int[], $5::bigint[], $6::int[], $7::int[], $8::smallint[], $9::int[], $10::int[], $11::text[])
            WITH ORDINALITY AS v(p, e, v, c, pf, f, t, s, n)`,
      [new Date(first), `${intervalSeconds} seconds`, id, ...cols],
    );
    written += cols[0]!.length;
    for (const c of cols) c.length = 0;
    bytes = 0;
  };
  for (const r of readings(batch.load.model, batch.from, batch.to, intervalSeconds)) {
    if (cols[0]!.length === 0) first = r.time;
    const values = [r.deciWatts, r.milliWattHours, r.deciVolts, r.milliAmps, r.centiPowerFactor, r.centiHertz, r.deciCelsius, r.state];
    values.forEach((v, i) => cols[i]!.push(v));
    bytes += values.reduce<number>((sum, v) => sum + String(v).length + 3, 0);
    if (bytes >= INSERT_MESSAGE_BUDGET) await flush();
  }
  await flush();
  return written;
}

/**
 * Recomputes the cost rows of the periods the batch touches, from whatever metrics are there: one
 * grouped scan of the periods' range, joined to the prices computed here (rates.ts).
 */
async function writeCosts(client: pg.Client, batch: Batch, intervalSeconds: number): Promise<void> {
  const pricing = batch.load.pricing;
  const periods = batch.periods;
  if (!pricing || periods.length === 0) return;
  const seconds = Math.max(3600, intervalSeconds);
  for (let i = 0; i < periods.length; i += COST_PERIODS_PER_STATEMENT) {
    const slice = periods.slice(i, i + COST_PERIODS_PER_STATEMENT);
    const prices = slice.map((p) => pricing.price(p));
    // Periods are whole hours or the interval (which divides a day), so time_bucket's buckets
    // (aligned to a midnight) start exactly where the periods computed here do.
    await client.query(
      `INSERT INTO cost_calculations (time, period_end, device_id, rate_schedule_id, energy_kwh, cost, rate_period)
       SELECT p.start, p.start + $2::interval, $1, $3, e.kwh, round((e.kwh * p.price)::numeric, 6), p.period
       FROM unnest($4::timestamptz[], $5::float8[], $6::text[]) AS p(start, price, period)
       JOIN (SELECT time_bucket($2::interval, m.time) AS start, sum(m.energy_milliwatt_hours)::float8 / 1e6 AS kwh
               FROM metrics m
              WHERE m.device_id = $1 AND m.time >= $7 AND m.time < $8
              GROUP BY 1) AS e USING (start)
       WHERE e.kwh IS NOT NULL`,
      [
        batch.load.model.device.deviceId,
        `${seconds} seconds`,
        pricing.rateScheduleId,
        slice.map((p) => new Date(p)),
        prices.map((p) => p.pricePerKwh),
        prices.map((p) => p.period),
        new Date(slice[0]!),
        new Date(slice.at(-1)! + seconds * 1000),
      ],
    );
  }
}

function aborted(done: number, total: number, written: number, cause?: unknown): OpsError {
  return new OpsError('ABORTED', `seeding stopped after ${done} of ${total} batches (${written.toLocaleString('en-US')} readings written, none half-way): run the same seed again to finish, completed batches are skipped`, { cause });
}

/**
 * Loads the plan's readings for these devices. Idempotent per device and range; see the module
 * comment for batching, COPY versus INSERT, how cost is derived, and parallel sessions.
 */
export async function loadReadings(client: pg.Client, plan: GenerationPlan, loads: readonly DeviceLoad[], logger: Logger, options: LoadOptions): Promise<LoadResult> {
  const started = Date.now();
  const { method } = options;
  const batches = plannedBatches(plan, loads, options.batchRows ?? 50_000);
  const interval = plan.intervalSeconds;
  const costRows = batches.reduce((n, b) => n + (b.load.pricing ? b.periods.length : 0), 0);
  const progress = { next: 0, done: 0, written: 0, skipped: 0 };
  // The first failure (or the caller's signal) stops every session between batches, and aborts a
  // COPY in flight (its batch rolls back): whatever else is written is whole batches.
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  let failure: unknown;

  const writeBatch = async (session: pg.Client, batch: Batch, number: number): Promise<number> => {
    if (!options.replace && (await existingMatches(session, batch, interval))) return -1;
    const id = batch.load.model.device.deviceId;
    const what = `seed: the transaction of batch ${number} (${id}, ${new Date(batch.from).toISOString()} to ${new Date(batch.to).toISOString()})`;
    // A batch rolls back whole and rewrites its range: a deadlock victim (a policy job crossed it) runs again.
    return retryingDeadlocks(what, () => withTransaction(session, async () => {
      await session.query('DELETE FROM metrics WHERE device_id = $1 AND time >= $2 AND time < $3', [id, new Date(batch.from), new Date(batch.to)]);
      if (batch.load.pricing) {
        await session.query('DELETE FROM cost_calculations WHERE device_id = $1 AND time >= $2 AND time < $3', [id, new Date(batch.periods[0]!), new Date(batch.to)]);
      }
      const rows = method === 'copy' ? await writeByCopy(session, batch, interval, signal) : await writeByInsert(session, batch, interval, signal);
      await writeCosts(session, batch, interval);
      return rows;
    }), { logger, signal });
  };

  const work = async (session: pg.Client): Promise<void> => {
    while (!signal.aborted && progress.next < batches.length) {
      const number = ++progress.next;
      const batch = batches[number - 1]!;
      try {
        const rows = await writeBatch(session, batch, number);
        if (rows < 0) progress.skipped++;
        else progress.written += rows;
        progress.done++;
        const seconds = (Date.now() - started) / 1000;
        logger.progress(`seed: batch ${progress.done}/${batches.length}, ${progress.written.toLocaleString('en-US')} readings written (${Math.round(progress.written / Math.max(seconds, 0.001)).toLocaleString('en-US')}/s)`);
      } catch (error) {
        // An error caused by the abort is not the failure: the first real one is.
        if (!signal.aborted) {
          failure = error;
          stop.abort(error);
        }
        return;
      }
    }
  };

  const sessions = [client, ...(signal.aborted ? [] : await extraSessions(method, batches.length, options, logger))];
  try {
    await Promise.all(sessions.map(work));
  } finally {
    await Promise.all(sessions.slice(1).map((s) => s.end().catch(() => {})));
  }
  // A real failure outranks an interrupt that came after it.
  if (failure !== undefined) throw failure;
  if (options.signal?.aborted) throw aborted(progress.done, batches.length, progress.written, options.signal.reason);
  return {
    method,
    metricsRows: plan.readingsPerDevice * loads.length,
    costRows,
    writtenRows: progress.written,
    batches: batches.length,
    skippedBatches: progress.skipped,
    sessions: sessions.length,
    seconds: (Date.now() - started) / 1000,
  };
}

/**
 * Sessions beside the caller's for COPY on a server: batches are independent (one device, its own
 * range), so two sessions keep the server's per-row work (foreign key lookup, three indexes, chunk
 * routing) on two cores while this process generates. The embedded engine serves one session.
 * A session that cannot be opened (connection limit) is not an error: fewer sessions do the work.
 */
async function extraSessions(method: LoadMethod, batches: number, options: LoadOptions, logger: Logger): Promise<pg.Client[]> {
  const sessions = options.sessions ?? DEFAULT_SESSIONS;
  if (!Number.isInteger(sessions) || sessions < 1 || sessions > MAX_SESSIONS) {
    throw new OpsError('USAGE', `sessions must be a whole number from 1 to ${MAX_SESSIONS} (the 512 MB tuning allows 25 connections), not ${sessions}`);
  }
  const wanted = method === 'copy' && options.openSession ? Math.min(sessions, batches) - 1 : 0;
  const opened: pg.Client[] = [];
  for (let i = 0; i < wanted; i++) {
    try {
      opened.push(await options.openSession!());
    } catch (error) {
      logger.warn(`seed: writing on ${opened.length + 1} session(s) instead of ${wanted + 1}: ${error instanceof Error ? error.message : String(error)}`);
      break;
    }
  }
  return opened;
}
