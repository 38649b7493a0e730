/**
 * `seed()`: the sample database in one call: reference rows, then generated readings and their
 * cost. Idempotent: seeding twice with the same options leaves the same rows, and the admin's
 * password is set only when the admin is created.
 */
import type pg from 'pg';
import { OpsError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Target } from '../targets/types.js';
import { connect, withClient, withTransaction } from '../pg.js';
import { retryingDeadlocks } from '../deadlockRetry.js';
import { refreshAggregates } from './aggregates.js';
import { DEFAULT_SEEDS_DIR, loadGeneratorSettings, loadReferenceData } from './data.js';
import { deviceCatalog } from './devices.js';
import { deviceModel } from './generator.js';
import { loadReadings, type DeviceLoad, type LoadMethod } from './load.js';
import { planGeneration, type GenerateOptions } from './options.js';
import { pricer } from './rates.js';
import { checkAdminPassword, upsertReference } from './reference.js';

export { SEED_LIMITS, parseInterval, planGeneration, type GenerateOptions, type GenerationPlan } from './options.js';
export { MIN_ADMIN_PASSWORD_LENGTH } from './reference.js';
export { hashPassword, verifyPassword } from './password.js';

export interface SeedOptions extends GenerateOptions {
  /** Password for a newly created admin; without it one is generated and returned once. */
  adminPassword?: string;
  /** Folder with reference.json and generator.json. Default: the repository's seeds/. */
  seedsDir?: string;
  /** Stops between batches; a rerun finishes the job. */
  signal?: AbortSignal;
  /** 'auto' (default): what the target bulk-loads with (its capabilities.bulkLoad: COPY, or INSERT batches). */
  method?: LoadMethod | 'auto';
  /** Rewrite readings even where they already match. */
  replace?: boolean;
  /** Readings per transaction (default 50,000). */
  batchRows?: number;
  /** Sessions writing in parallel where the target has many (COPY only; default 2). */
  sessions?: number;
  /** A session on the target that the caller holds: seed writes on it alone, and leaves it open. */
  session?: pg.Client;
  /** "Now" for the default end time; tests pin it. */
  now?: number;
  /** Materialize the continuous aggregates over the window afterwards (default true; see aggregates.ts). */
  refreshAggregates?: boolean;
}

export interface SeedSummary {
  /** Devices upserted (the reference ones plus synthetic ones beyond them). */
  devices: number;
  users: number;
  rateSchedules: number;
  plugins: number;
  /** metrics rows of the seeded devices in the window. */
  metricsRows: number;
  /** cost_calculations rows of the priced devices in the window. */
  costRows: number;
  /** Rows this run actually wrote (0 on an idempotent re-run). */
  writtenRows: number;
  skippedBatches: number;
  method: LoadMethod;
  /** Sessions that wrote readings. */
  sessions: number;
  start: Date;
  end: Date;
  intervalSeconds: number;
  seconds: number;
  /** Continuous aggregates materialized over the window (none on the Apache edition). */
  refreshedAggregates: string[];
  /** Only when this run created the admin with a generated password: print once, never log. */
  adminPassword?: string;
}

async function assertSchema(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ ok: boolean }>(`SELECT to_regclass('public.metrics') IS NOT NULL AND to_regclass('public.devices') IS NOT NULL AS ok`);
  if (!rows[0]?.ok) throw new OpsError('NOT_FOUND', 'the database has no AetherLens schema (no metrics or devices table): run `aetherlens-db migrate` before seeding');
}

/**
 * Seeds a migrated database: upserts plugins, rate schedules, devices and users (one
 * transaction), then loads `days` of `interval` readings for `devices` devices ending at `end`,
 * with their hourly cost. Options are validated before anything connects.
 */
export async function seed(target: Target, options: SeedOptions, logger: Logger): Promise<SeedSummary> {
  const dir = options.seedsDir ?? DEFAULT_SEEDS_DIR;
  const [reference, settings] = await Promise.all([loadReferenceData(dir), loadGeneratorSettings(dir)]);
  const plan = planGeneration(options, settings.defaults, options.now);
  checkAdminPassword(options.adminPassword);
  const devices = deviceCatalog(reference, Math.max(plan.devices, reference.devices.length));
  const run = async (client: pg.Client): Promise<SeedSummary> => {
    await assertSchema(client);
    // Policy jobs lock these tables too, in their own order: a deadlock victim runs again.
    const ref = await retryingDeadlocks(
      "seed: the reference rows' transaction",
      () => withTransaction(client, () => upsertReference(client, reference, devices, options.adminPassword !== undefined ? { adminPassword: options.adminPassword } : {}, logger)),
      { logger, ...(options.signal ? { signal: options.signal } : {}) },
    );
    const schedules = new Map(reference.rateSchedules.map((s) => [s.name, s]));
    const loads: DeviceLoad[] = devices.slice(0, plan.devices).map((device) => {
      const model = deviceModel(device, plan.seed, settings.site);
      const schedule = device.rateSchedule === null ? undefined : schedules.get(device.rateSchedule);
      return schedule ? { model, pricing: { rateScheduleId: ref.scheduleIds.get(schedule.name)!, price: pricer(schedule.rates, schedule.timezone) } } : { model };
    });
    logger.info(`seeding ${plan.devices} device(s) × ${plan.days} day(s) of ${plan.intervalSeconds} s readings from ${plan.start.toISOString()} to ${plan.end.toISOString()} (${plan.totalReadings.toLocaleString('en-US')} rows)`);
    const loaded = await loadReadings(client, plan, loads, logger, {
      method: options.method && options.method !== 'auto' ? options.method : target.capabilities.bulkLoad,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.batchRows ? { batchRows: options.batchRows } : {}),
      ...(options.replace ? { replace: true } : {}),
      // More sessions only where the target has them; a caller's own session is written on alone.
      ...(options.session || target.capabilities.sessions !== 'many' ? {} : { openSession: () => connect(target.connection), ...(options.sessions ? { sessions: options.sessions } : {}) }),
    });
    const refreshed = options.refreshAggregates === false ? [] : await refreshAggregates(client, plan.start, plan.end, logger);
    return {
      devices: devices.length,
      users: ref.users,
      rateSchedules: ref.rateSchedules,
      plugins: ref.plugins,
      metricsRows: loaded.metricsRows,
      costRows: loaded.costRows,
      writtenRows: loaded.writtenRows,
      skippedBatches: loaded.skippedBatches,
      method: loaded.method,
      sessions: loaded.sessions,
      start: plan.start,
      end: plan.end,
      intervalSeconds: plan.intervalSeconds,
      seconds: loaded.seconds,
      refreshedAggregates: refreshed,
      ...(ref.adminPassword !== undefined ? { adminPassword: ref.adminPassword } : {}),
    };
  };
  return options.session ? run(options.session) : withClient(target.connection, run);
}
