import type { ConnectionInfo } from '../../../ops/lib/connection.js';
import { withClient } from '../../../ops/lib/pg.js';

/**
 * A small AetherLens-shaped database: reference rows, a hypertable over several chunks, and what
 * the community edition adds (a continuous aggregate, compression, and their policy jobs, which
 * the background workers run while the scheduler backs up), so every drill has jobs, an
 * aggregate with rows and a refresh to check.
 */
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
CREATE MATERIALIZED VIEW metrics_hourly WITH (timescaledb.continuous) AS
  SELECT time_bucket(INTERVAL '1 hour', time) AS bucket, device_id, avg(power_w) AS power_w, max(energy_wh) AS energy_wh
    FROM metrics GROUP BY 1, 2 WITH NO DATA;
SELECT add_continuous_aggregate_policy('metrics_hourly', start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '30 minutes');
ALTER TABLE metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id');
SELECT add_compression_policy('metrics', compress_after => INTERVAL '7 days');
`;

/** Creates `name` on the cluster with the small schema; returns its connection. */
export async function createSmallDatabase(admin: ConnectionInfo, name: string): Promise<ConnectionInfo> {
  await withClient(admin, (c) => c.query(`CREATE DATABASE ${name}`));
  const info = { ...admin, database: name };
  await withClient(info, async (c) => {
    await c.query(SMALL_SCHEMA);
    // Outside a transaction block, as refresh_continuous_aggregate requires.
    await c.query(`CALL refresh_continuous_aggregate('metrics_hourly', NULL, NULL)`);
  });
  return info;
}

/** Some new rows, so consecutive backups differ. */
export async function addReadings(info: ConnectionInfo, day: string): Promise<void> {
  await withClient(info, (c) => c.query(`INSERT INTO metrics SELECT t, 'shelly-office-01', 1, 1 FROM generate_series(timestamptz '${day}', timestamptz '${day}' + INTERVAL '1 hour', INTERVAL '5 minutes') AS t`));
}
