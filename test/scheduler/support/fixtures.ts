import type { ConnectionInfo } from '../../../ops/lib/connection.js';
import { withClient } from '../../../ops/lib/pg.js';

/** A small AetherLens-shaped database: reference rows and a hypertable over several chunks. */
export const SMALL_SCHEMA = `
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE devices (id text PRIMARY KEY, name text NOT NULL);
INSERT INTO devices VALUES ('shelly-office-01', 'Office Desk Plug'), ('tp-link-living-room', 'Living Room Lamp'), ('solar-inverter-01', 'Solar Inverter');
CREATE TABLE metrics (time timestamptz NOT NULL, device_id text NOT NULL REFERENCES devices (id), power_w double precision, energy_wh double precision);
SELECT create_hypertable('metrics', 'time', chunk_time_interval => INTERVAL '7 days');
INSERT INTO metrics
  SELECT t, d, 100 + 50 * sin(extract(epoch FROM t) / 3600), extract(epoch FROM t) / 3600
    FROM generate_series(timestamptz '2026-10-01', timestamptz '2026-10-22', INTERVAL '5 minutes') AS t,
         unnest(ARRAY['shelly-office-01', 'tp-link-living-room', 'solar-inverter-01']) AS d;
`;

/** Creates `name` on the cluster with the small schema; returns its connection. */
export async function createSmallDatabase(admin: ConnectionInfo, name: string): Promise<ConnectionInfo> {
  await withClient(admin, (c) => c.query(`CREATE DATABASE ${name}`));
  const info = { ...admin, database: name };
  await withClient(info, (c) => c.query(SMALL_SCHEMA));
  return info;
}

/** Some new rows, so consecutive backups differ. */
export async function addReadings(info: ConnectionInfo, day: string): Promise<void> {
  await withClient(info, (c) => c.query(`INSERT INTO metrics SELECT t, 'shelly-office-01', 1, 1 FROM generate_series(timestamptz '${day}', timestamptz '${day}' + INTERVAL '1 hour', INTERVAL '5 minutes') AS t`));
}
