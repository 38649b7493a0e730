-- 002_hypertables: the two time-series tables, as hypertables with 7-day chunks.
--   metrics            one row per device reading
--   cost_calculations  energy cost per device and period, priced with a rate schedule
-- Hypertable to plain-table foreign keys are allowed; nothing references a hypertable.
-- Default indexes are off: every index is explicit and named (the inventory is in 003).
-- Works on the Apache and the community edition. Transactional.

-- Conventions, shared by the seed generator and the application:
--   time       start of the interval the reading covers: [time, time + sampling interval)
--   power      mean active power over the interval, always >= 0; for a producer (device_type
--              solar_inverter) it is power produced, for everything else power consumed
--   energy     energy over that same interval (not a cumulative meter counter), so any period's
--              energy is the sum of its rows and survives meter resets
--   state      what the device was doing: on, off (relay open), standby, producing, idle, fault
--
-- Measurements are integers in the meter's own units (0.1 W, 0.001 Wh, 0.1 V, 1 mA, 0.01 power
-- factor, 0.01 Hz, 0.1 °C), each column named after its unit. Why not double precision:
-- TimescaleDB compresses floats by XOR of consecutive values, and decimal steps such as 0.1 are
-- not binary fractions, so two readings 0.1 V apart still differ in most of their bits; integers
-- compress by delta-of-delta instead. Measured on the generated data (docs/bench.md): 87.9 % saved
-- as double precision, 97.2 % as integers. Integers also make every sum exact (energy, costs,
-- backup fingerprints). Readers who want W, Wh, V, A, Hz and °C use the view metrics_si below, or
-- the continuous aggregates of 004, which are in those units.
CREATE TABLE metrics (
  time                    timestamptz NOT NULL,
  -- No cascade: a device with readings is retired (is_active = false), not deleted.
  device_id               text NOT NULL REFERENCES devices (device_id),
  power_deciwatts         integer NOT NULL CHECK (power_deciwatts >= 0 AND power_deciwatts < 10000000),
  -- bigint: a day-long interval at 100 kW is 2.4e9 mWh, past integer's 2.1e9.
  energy_milliwatt_hours  bigint CHECK (energy_milliwatt_hours >= 0),
  voltage_decivolts       integer CHECK (voltage_decivolts BETWEEN 0 AND 10000),
  current_milliamps       integer CHECK (current_milliamps BETWEEN 0 AND 2000000),
  power_factor_percent    smallint CHECK (power_factor_percent BETWEEN -100 AND 100),
  frequency_centihertz    integer CHECK (frequency_centihertz BETWEEN 4000 AND 7000),
  temperature_decicelsius integer CHECK (temperature_decicelsius BETWEEN -600 AND 2000),
  state                   text CHECK (state IN ('on', 'off', 'standby', 'producing', 'idle', 'fault'))
);

SELECT create_hypertable('metrics', by_range('time', INTERVAL '7 days'), create_default_indexes => false);

-- One reading per device and instant (upserts: ON CONFLICT (device_id, time)); also serves the
-- latest reading per device and "last 24 h of device X":
-- SELECT ... WHERE device_id = $1 AND time > now() - interval '24 hours' ORDER BY time DESC
CREATE UNIQUE INDEX idx_metrics_device_time ON metrics (device_id, time DESC);

-- metrics in SI units, for readers: a plain view, so filters on time and device_id reach the
-- hypertable's chunks and indexes unchanged. Dividing an integer by a power of ten in double
-- precision gives the double nearest the decimal (2301 / 10 = 230.1, as if typed).
CREATE VIEW metrics_si AS
SELECT time,
       device_id,
       power_deciwatts / 10.0::double precision            AS power_w,
       energy_milliwatt_hours / 1000.0::double precision   AS energy_wh,
       voltage_decivolts / 10.0::double precision          AS voltage_v,
       current_milliamps / 1000.0::double precision        AS current_a,
       power_factor_percent / 100.0::double precision      AS power_factor,
       frequency_centihertz / 100.0::double precision      AS frequency_hz,
       temperature_decicelsius / 10.0::double precision    AS temperature_c,
       state
FROM metrics;

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
-- The view is for reading; 001's default privileges would also let the application write through it.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON metrics_si FROM aetherlens_app;
GRANT SELECT ON metrics_si TO aetherlens_app, aetherlens_readonly, aetherlens_backup;
