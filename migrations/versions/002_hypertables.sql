-- 002_hypertables: the two time-series tables, as hypertables with 7-day chunks.
--   metrics            one row per device reading
--   cost_calculations  energy cost per device and period, priced with a rate schedule
-- Hypertable to plain-table foreign keys are allowed; nothing references a hypertable.
-- Default indexes are off: every index is explicit and named (the inventory is in 003).
-- Works on the Apache and the community edition. Transactional.

-- Conventions, shared by the seed generator and the application:
--   time       start of the interval the reading covers: [time, time + sampling interval)
--   power_w    mean active power over the interval, always >= 0; for a producer (device_type
--              solar_inverter) it is power produced, for everything else power consumed
--   energy_wh  energy over that same interval (not a cumulative meter counter), so any
--              period's energy is sum(energy_wh) and survives meter resets
--   state      what the device was doing: on, off (relay open), standby, producing, idle, fault
CREATE TABLE metrics (
  time          timestamptz NOT NULL,
  -- No cascade: a device with readings is retired (is_active = false), not deleted.
  device_id     text NOT NULL REFERENCES devices (device_id),
  power_w       double precision NOT NULL CHECK (power_w >= 0 AND power_w < 1000000),
  energy_wh     double precision CHECK (energy_wh >= 0),
  voltage_v     double precision CHECK (voltage_v BETWEEN 0 AND 1000),
  current_a     double precision CHECK (current_a BETWEEN 0 AND 2000),
  power_factor  double precision CHECK (power_factor BETWEEN -1 AND 1),
  frequency_hz  double precision CHECK (frequency_hz BETWEEN 40 AND 70),
  temperature_c double precision CHECK (temperature_c BETWEEN -60 AND 200),
  state         text CHECK (state IN ('on', 'off', 'standby', 'producing', 'idle', 'fault'))
);

SELECT create_hypertable('metrics', by_range('time', INTERVAL '7 days'), create_default_indexes => false);

-- One reading per device and instant (upserts: ON CONFLICT (device_id, time)); also serves the
-- latest reading per device and "last 24 h of device X":
-- SELECT ... WHERE device_id = $1 AND time > now() - interval '24 hours' ORDER BY time DESC
CREATE UNIQUE INDEX idx_metrics_device_time ON metrics (device_id, time DESC);

-- One row per device and period. Periods are clock hours for the seed data; the application
-- may use other lengths (up to a day), so the period's end is explicit.
CREATE TABLE cost_calculations (
  time             timestamptz NOT NULL,
  period_end       timestamptz NOT NULL,
  device_id        text NOT NULL REFERENCES devices (device_id),
  -- A schedule that priced something cannot be deleted; deactivate it instead.
  rate_schedule_id bigint NOT NULL REFERENCES rate_schedules (rate_schedule_id),
  energy_kwh       double precision NOT NULL CHECK (energy_kwh >= 0),
  cost             numeric(14, 6) NOT NULL CHECK (cost >= 0),
  -- The schedule's period the price came from: peak, partial_peak, off_peak, flat, ...
  rate_period      text NOT NULL CHECK (rate_period ~ '^[a-z][a-z0-9_]{0,31}$'),
  CHECK (period_end > time AND period_end <= time + INTERVAL '1 day')
);

SELECT create_hypertable('cost_calculations', by_range('time', INTERVAL '7 days'), create_default_indexes => false);

-- One cost row per device and period start (recalculation upserts); also "cost of device X this
-- week": SELECT ... WHERE device_id = $1 AND time >= $2 ORDER BY time DESC
CREATE UNIQUE INDEX idx_cost_calculations_device_time ON cost_calculations (device_id, time DESC);

-- 001's default privileges already cover both tables; stated here so the grants do not depend on
-- which role ran 001.
GRANT SELECT, INSERT, UPDATE, DELETE ON metrics, cost_calculations TO aetherlens_app;
GRANT SELECT ON metrics, cost_calculations TO aetherlens_readonly, aetherlens_backup;
