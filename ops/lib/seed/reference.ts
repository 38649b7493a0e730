/**
 * Upserts the fixed reference rows (plugins, rate schedules, devices, users) idempotently: a
 * second run with the same data changes nothing, not even updated_at. Reference data wins for the
 * descriptive columns; operator settings (plugin config and enabled, device config and is_active)
 * and anything about existing users (password, role, email) are never touched.
 */
import type pg from 'pg';
import { OpsError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { DeviceSeed, ReferenceData } from './data.js';
import { generatePassword, hashPassword } from './password.js';

/** Shorter admin passwords are refused; 12 is NIST SP 800-63B's floor for a single factor plus margin. */
export const MIN_ADMIN_PASSWORD_LENGTH = 12;

export interface ReferenceOptions {
  /** The admin's password for a new admin (the CLI passes AETHERLENS_ADMIN_PASSWORD). */
  adminPassword?: string;
}

export interface ReferenceResult {
  plugins: number;
  rateSchedules: number;
  users: number;
  /** Rate schedule ids by name, for pricing devices. */
  scheduleIds: Map<string, number>;
  /** Whether this run created the admin user. */
  adminCreated: boolean;
  /** Only when this run created the admin with a generated password: show it once, store it nowhere. */
  adminPassword?: string;
}

/** Refuses a weak admin password before anything is written. Never repeats the password. */
export function checkAdminPassword(password: string | undefined): void {
  if (password === undefined) return;
  if (password.length < MIN_ADMIN_PASSWORD_LENGTH) {
    throw new OpsError('USAGE', `the admin password (AETHERLENS_ADMIN_PASSWORD) has ${password.length} characters, fewer than ${MIN_ADMIN_PASSWORD_LENGTH}: choose a longer one, or unset it to have one generated`);
  }
  if (password.length > 1024) {
    throw new OpsError('USAGE', `the admin password (AETHERLENS_ADMIN_PASSWORD) is longer than 1024 characters: choose a shorter one`);
  }
}

async function upsertPlugins(client: pg.Client, reference: ReferenceData): Promise<void> {
  for (const p of reference.plugins) {
    await client.query(
      `INSERT INTO plugins (plugin_id, name, version, config) VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (plugin_id) DO UPDATE SET name = EXCLUDED.name, version = EXCLUDED.version
       WHERE (plugins.name, plugins.version) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.version)`,
      [p.pluginId, p.name, p.version, JSON.stringify(p.config ?? {})],
    );
  }
}

async function upsertRateSchedules(client: pg.Client, reference: ReferenceData): Promise<Map<string, number>> {
  for (const s of reference.rateSchedules) {
    await client.query(
      `INSERT INTO rate_schedules (name, utility, schedule_type, currency, timezone, rates, effective_from, effective_to)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)
       ON CONFLICT (name) DO UPDATE SET utility = EXCLUDED.utility, schedule_type = EXCLUDED.schedule_type,
         currency = EXCLUDED.currency, timezone = EXCLUDED.timezone, rates = EXCLUDED.rates,
         effective_from = EXCLUDED.effective_from, effective_to = EXCLUDED.effective_to
       WHERE (rate_schedules.utility, rate_schedules.schedule_type, rate_schedules.currency, rate_schedules.timezone,
              rate_schedules.rates, rate_schedules.effective_from, rate_schedules.effective_to)
         IS DISTINCT FROM (EXCLUDED.utility, EXCLUDED.schedule_type, EXCLUDED.currency, EXCLUDED.timezone,
              EXCLUDED.rates, EXCLUDED.effective_from, EXCLUDED.effective_to)`,
      [s.name, s.utility, s.scheduleType, s.currency, s.timezone, JSON.stringify(s.rates), s.effectiveFrom, s.effectiveTo],
    );
  }
  const { rows } = await client.query<{ name: string; id: string }>(
    'SELECT name, rate_schedule_id AS id FROM rate_schedules WHERE name = ANY($1::text[])',
    [reference.rateSchedules.map((s) => s.name)],
  );
  return new Map(rows.map((r) => [r.name, Number(r.id)]));
}

/**
 * Upserts devices (reference and synthetic alike). Exported because the loader's callers may add
 * synthetic devices without re-running the rest.
 */
export async function upsertDevices(client: pg.Client, devices: readonly DeviceSeed[], scheduleIds: ReadonlyMap<string, number>): Promise<void> {
  for (const d of devices) {
    const scheduleId = d.rateSchedule === null ? null : scheduleIds.get(d.rateSchedule);
    if (scheduleId === undefined) throw new OpsError('CONFIG', `device ${d.deviceId} names rate schedule "${d.rateSchedule}", which is not in the database: fix seeds/reference.json`);
    await client.query(
      `INSERT INTO devices (device_id, name, device_type, manufacturer, model, location, plugin_id, rate_schedule_id, metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
       ON CONFLICT (device_id) DO UPDATE SET name = EXCLUDED.name, device_type = EXCLUDED.device_type,
         manufacturer = EXCLUDED.manufacturer, model = EXCLUDED.model, location = EXCLUDED.location,
         plugin_id = EXCLUDED.plugin_id, rate_schedule_id = EXCLUDED.rate_schedule_id, metadata = EXCLUDED.metadata
       WHERE (devices.name, devices.device_type, devices.manufacturer, devices.model, devices.location,
              devices.plugin_id, devices.rate_schedule_id, devices.metadata)
         IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.device_type, EXCLUDED.manufacturer, EXCLUDED.model,
              EXCLUDED.location, EXCLUDED.plugin_id, EXCLUDED.rate_schedule_id, EXCLUDED.metadata)`,
      [d.deviceId, d.name, d.deviceType, d.manufacturer, d.model, d.location, d.pluginId, scheduleId, JSON.stringify({ ...d.metadata, profile: d.profile })],
    );
  }
}

/** Creates missing users; existing users (found case-insensitively) are left exactly as they are. */
async function insertUsers(client: pg.Client, reference: ReferenceData, options: ReferenceOptions, logger: Logger) {
  const { rows } = await client.query<{ name: string }>('SELECT lower(username) AS name FROM users WHERE lower(username) = ANY($1::text[])', [
    reference.users.map((u) => u.username.toLowerCase()),
  ]);
  const existing = new Set(rows.map((r) => r.name));
  let adminCreated = false;
  let adminPassword: string | undefined;
  for (const u of reference.users) {
    if (existing.has(u.username.toLowerCase())) {
      if (u.passwordSource === 'admin-option' && options.adminPassword !== undefined) {
        logger.warn(`user ${u.username} already exists: its password was left unchanged`);
      }
      continue;
    }
    const generated = u.passwordSource === 'random' || options.adminPassword === undefined ? generatePassword() : undefined;
    const hash = await hashPassword(generated ?? options.adminPassword!);
    const inserted = await client.query(
      `INSERT INTO users (username, email, password_hash, role) VALUES ($1, $2, $3, $4)
       ON CONFLICT ((lower(username))) DO NOTHING RETURNING user_id`,
      [u.username, u.email, hash, u.role],
    );
    if (inserted.rowCount === 1 && u.passwordSource === 'admin-option') {
      adminCreated = true;
      adminPassword = generated;
    }
    if (inserted.rowCount === 1) logger.info(`created user ${u.username} (${u.role})`);
  }
  return { adminCreated, adminPassword };
}

/**
 * Upserts plugins, rate schedules and the given devices, and creates the reference users that do
 * not exist yet. Run it inside a transaction: a failure leaves nothing half-written.
 */
export async function upsertReference(
  client: pg.Client,
  reference: ReferenceData,
  devices: readonly DeviceSeed[],
  options: ReferenceOptions,
  logger: Logger,
): Promise<ReferenceResult> {
  checkAdminPassword(options.adminPassword);
  await upsertPlugins(client, reference);
  const scheduleIds = await upsertRateSchedules(client, reference);
  await upsertDevices(client, devices, scheduleIds);
  const users = await insertUsers(client, reference, options, logger);
  return {
    plugins: reference.plugins.length,
    rateSchedules: scheduleIds.size,
    users: reference.users.length,
    scheduleIds,
    adminCreated: users.adminCreated,
    ...(users.adminPassword !== undefined ? { adminPassword: users.adminPassword } : {}),
  };
}
