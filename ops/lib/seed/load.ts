/**
 * Loads generated readings into metrics, and prices them into cost_calculations.
 *
 * Work is split into batches of one device and whole UTC days (at most `batchRows` readings),
 * each in its own transaction: delete the batch's range, write the readings, recompute the cost
 * periods the range touches. Before writing, a batch compares the rows already there with what
 * it would write (count, and exact sums of three integer meter-unit columns): when they match, it
 * skips. So a re-run with the same options changes nothing, a run stopped half-way (AbortSignal,
 * crash) leaves only whole batches, and the next run finishes the rest.
 *
 * Writing: COPY FROM STDIN through pg-copy-streams (streamed in ~64 KB pieces, with backpressure)
 * on PostgreSQL servers. The embedded engine crashes on COPY FROM STDIN (its wire server refuses
 * it), so there the same rows go as INSERT ... SELECT FROM unnest(arrays) statements of up to
 * ~256 KB each (method 'insert', chosen automatically).
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
  /** 'auto' (default): COPY, except on the embedded engine. */
  method?: LoadMethod | 'auto';
  /** Stops cleanly between batches (and rolls back the batch in flight). */
  signal?: AbortSignal;
  /** Most readings per batch (transaction). Default 50,000. */
  batchRows?: number;
  /** Rewrite batches even when their rows already match. */
  replace?: boolean;
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
  seconds: number;
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** metrics' columns in meter units (migration 002), the same units as Reading's fields. */
const COLUMNS = 'time, device_id, power_deciwatts, energy_milliwatt_hours, voltage_decivolts, current_milliamps, power_factor_percent, frequency_centihertz, temperature_decicelsius, state';
/** Bytes of values per INSERT: big enough that per-statement costs vanish, small enough for WebAssembly memory. */
const INSERT_MESSAGE_BUDGET = 256_000;
const COST_PERIODS_PER_STATEMENT = 400;

interface Batch {
  load: DeviceLoad;
  from: number;
  to: number;
}

interface Fingerprint {
  rows: number;
  deciWatts: number;
  milliWattHours: number;
  deciVolts: number;
}

/** Whether the server is the embedded (WebAssembly) engine. */
export async function isEmbeddedEngine(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ v: string }>('SELECT version() AS v');
  return /emscripten|emcc|wasm/i.test(rows[0]?.v ?? '');
}

function plannedBatches(plan: GenerationPlan, loads: readonly DeviceLoad[], batchRows: number): Batch[] {
  const start = plan.start.getTime();
  const end = plan.end.getTime();
  const perDay = 86_400 / plan.intervalSeconds;
  const span = Math.max(1, Math.floor(batchRows / perDay)) * DAY_MS;
  const batches: Batch[] = [];
  for (const load of loads) {
    for (let edge = Math.floor(start / span) * span; edge < end; edge += span) {
      batches.push({ load, from: Math.max(start, edge), to: Math.min(end, edge + span) });
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
function costPeriods(batch: Batch, intervalSeconds: number): number[] {
  const length = Math.max(HOUR_MS, intervalSeconds * 1000);
  const starts: number[] = [];
  const last = batch.to - intervalSeconds * 1000;
  for (let p = Math.floor(batch.from / length) * length; p <= last; p += length) starts.push(p);
  return starts;
}

async function existingMatches(client: pg.Client, batch: Batch, expected: Fingerprint, periods: number[]): Promise<boolean> {
  const id = batch.load.model.device.deviceId;
  const { rows } = await client.query<{ n: string; dw: string; mwh: string; dv: string }>(
    `SELECT count(*) AS n, coalesce(sum(power_deciwatts), 0)::bigint AS dw,
            coalesce(sum(energy_milliwatt_hours), 0)::bigint AS mwh, coalesce(sum(voltage_decivolts), 0)::bigint AS dv
     FROM metrics WHERE device_id = $1 AND time >= $2 AND time < $3`,
    [id, new Date(batch.from), new Date(batch.to)],
  );
  const row = rows[0]!;
  const same = Number(row.n) === expected.rows && row.dw === String(expected.deciWatts) && row.mwh === String(expected.milliWattHours) && row.dv === String(expected.deciVolts);
  if (!same || !batch.load.pricing) return same;
  const cost = await client.query<{ n: string }>('SELECT count(*) AS n FROM cost_calculations WHERE device_id = $1 AND time >= $2 AND time < $3', [
    id,
    new Date(periods[0]!),
    new Date(batch.to),
  ]);
  return Number(cost.rows[0]!.n) === periods.length;
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
function* copyChunks(batch: Batch, intervalSeconds: number): Generator<string> {
  const id = batch.load.model.device.deviceId;
  let chunk = '';
  for (const r of readings(batch.load.model, batch.from, batch.to, intervalSeconds)) {
    chunk += copyLine(id, r);
    if (chunk.length >= 65_536) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

async function writeByCopy(client: pg.Client, batch: Batch, intervalSeconds: number, signal?: AbortSignal): Promise<void> {
  const stream = client.query(copyFrom(`COPY metrics (${COLUMNS}) FROM STDIN`));
  await pipeline(Readable.from(copyChunks(batch, intervalSeconds)), stream, ...(signal ? [{ signal }] : []));
}

/** Readings are evenly spaced, so times are computed server-side: only values travel. */
async function writeByInsert(client: pg.Client, batch: Batch, intervalSeconds: number, signal?: AbortSignal): Promise<void> {
  const id = batch.load.model.device.deviceId;
  const cols: (number | string | null)[][] = [[], [], [], [], [], [], [], []];
  let first = batch.from;
  let bytes = 0;
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
}

/** Recomputes the cost rows of the periods the batch touches, from whatever metrics are there. */
async function writeCosts(client: pg.Client, batch: Batch, periods: number[], intervalSeconds: number): Promise<void> {
  const pricing = batch.load.pricing;
  if (!pricing || periods.length === 0) return;
  const length = `${Math.max(3600, intervalSeconds)} seconds`;
  for (let i = 0; i < periods.length; i += COST_PERIODS_PER_STATEMENT) {
    const slice = periods.slice(i, i + COST_PERIODS_PER_STATEMENT);
    const prices = slice.map((p) => pricing.price(p));
    await client.query(
      `INSERT INTO cost_calculations (time, period_end, device_id, rate_schedule_id, energy_kwh, cost, rate_period)
       SELECT p.start, p.start + $2::interval, $1, $3, e.kwh, round((e.kwh * p.price)::numeric, 6), p.period
       FROM unnest($4::timestamptz[], $5::float8[], $6::text[]) AS p(start, price, period)
       CROSS JOIN LATERAL (SELECT sum(m.energy_milliwatt_hours)::float8 / 1e6 AS kwh FROM metrics m
                           WHERE m.device_id = $1 AND m.time >= p.start AND m.time < p.start + $2::interval) AS e
       WHERE e.kwh IS NOT NULL`,
      [batch.load.model.device.deviceId, length, pricing.rateScheduleId, slice.map((p) => new Date(p)), prices.map((p) => p.pricePerKwh), prices.map((p) => p.period)],
    );
  }
}

function aborted(done: number, total: number, written: number, cause?: unknown): OpsError {
  return new OpsError('ABORTED', `seeding stopped after ${done} of ${total} batches (${written.toLocaleString('en-US')} readings written, none half-way): run the same seed again to finish, completed batches are skipped`, { cause });
}

/**
 * Loads the plan's readings for these devices. Idempotent per device and range; see the module
 * comment for batching, COPY versus INSERT, and how cost is derived.
 */
export async function loadReadings(client: pg.Client, plan: GenerationPlan, loads: readonly DeviceLoad[], logger: Logger, options: LoadOptions = {}): Promise<LoadResult> {
  const started = Date.now();
  const method: LoadMethod = options.method && options.method !== 'auto' ? options.method : (await isEmbeddedEngine(client)) ? 'insert' : 'copy';
  const batches = plannedBatches(plan, loads, options.batchRows ?? 50_000);
  const interval = plan.intervalSeconds;
  let written = 0;
  let skipped = 0;
  let costRows = 0;
  for (const [index, batch] of batches.entries()) {
    if (options.signal?.aborted) throw aborted(index, batches.length, written, options.signal.reason);
    const periods = costPeriods(batch, interval);
    if (batch.load.pricing) costRows += periods.length;
    const expected = expectedFingerprint(batch, interval);
    if (!options.replace && (await existingMatches(client, batch, expected, periods))) {
      skipped++;
      continue;
    }
    const id = batch.load.model.device.deviceId;
    try {
      await withTransaction(client, async () => {
        await client.query('DELETE FROM metrics WHERE device_id = $1 AND time >= $2 AND time < $3', [id, new Date(batch.from), new Date(batch.to)]);
        if (batch.load.pricing) {
          await client.query('DELETE FROM cost_calculations WHERE device_id = $1 AND time >= $2 AND time < $3', [id, new Date(periods[0]!), new Date(batch.to)]);
        }
        if (method === 'copy') await writeByCopy(client, batch, interval, options.signal);
        else await writeByInsert(client, batch, interval, options.signal);
        await writeCosts(client, batch, periods, interval);
      });
    } catch (error) {
      if (options.signal?.aborted) throw aborted(index, batches.length, written, error);
      throw error;
    }
    written += expected.rows;
    const seconds = (Date.now() - started) / 1000;
    logger.progress(`seed: batch ${index + 1}/${batches.length}, ${written.toLocaleString('en-US')} readings written (${Math.round(written / Math.max(seconds, 0.001)).toLocaleString('en-US')}/s)`);
  }
  return {
    method,
    metricsRows: plan.readingsPerDevice * loads.length,
    costRows,
    writtenRows: written,
    batches: batches.length,
    skippedBatches: skipped,
    seconds: (Date.now() - started) / 1000,
  };
}
