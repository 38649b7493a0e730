-- 004_continuous_aggregates: hourly and daily roll-ups of metrics and cost_calculations, with
-- their refresh policies.
--   metrics_hourly  <- metrics          metrics_daily  <- metrics_hourly  (hierarchical)
--   cost_hourly     <- cost_calculations  cost_daily   <- cost_hourly     (hierarchical)
-- requires: community
--
-- Transactional: every view is created WITH NO DATA (only WITH DATA runs a refresh, which cannot
-- run inside a transaction block); the policies fill them. IF NOT EXISTS / if_not_exists make a
-- re-run harmless anyway.
--
-- materialized_only = false (real-time aggregation), deliberately: the dashboards read these views
-- for "today" and "this hour", and with the refresh lagging by up to end_offset + schedule_interval
-- a materialized-only view would show the current hour (and day) as missing. The real-time part
-- only covers what lies after the materialization watermark: at most ~2 h of raw metrics for the
-- hourly views and a day of hourly rows for the daily ones, so it stays cheap.
--
-- Daily buckets are UTC days (time_bucket's default). The schema does not know the home's time
-- zone; local-day reports sum metrics_hourly in the reader's zone (kept for a year).
--
-- Refresh windows, against the retention of 006 (a refresh must never reach data that retention
-- already dropped, or it would replace good aggregates with nothing):
--   metrics_hourly, cost_hourly  start_offset 3 days  < 90 days raw retention       (87 days spare)
--   metrics_daily, cost_daily    start_offset 7 days  < 1 year hourly retention     (358 days spare)
-- Each window also stays inside the 7 days before compression (005), so the hourly refresh reads
-- uncompressed chunks. Late data older than start_offset needs a manual
-- CALL refresh_continuous_aggregate('metrics_hourly', from, to), within the same limits.
-- end_offset 1 hour: the newest, still-filling hour is left to real-time aggregation. The daily
-- views are refreshed from the hourly ones; when an hourly bucket changes after its day was
-- materialized, TimescaleDB records the change and the next daily run (window 7 days) redoes it.

-- metrics stores integer meter units (002); the aggregates are in W, Wh, V, A and Hz for the
-- dashboards. Energy is also kept as the exact integer sum, which the daily view adds up, so a
-- day's energy is exactly the sum of its readings.
CREATE MATERIALIZED VIEW IF NOT EXISTS metrics_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false, timescaledb.create_group_indexes = false) AS
SELECT time_bucket(INTERVAL '1 hour', time) AS bucket,
       device_id,
       count(*)                                                AS readings,
       avg(power_deciwatts)::double precision / 10             AS avg_power_w,
       min(power_deciwatts)::double precision / 10             AS min_power_w,
       max(power_deciwatts)::double precision / 10             AS max_power_w,
       sum(energy_milliwatt_hours)::bigint                     AS energy_milliwatt_hours,
       sum(energy_milliwatt_hours)::double precision / 1000    AS energy_wh,
       count(voltage_decivolts)                                AS voltage_readings,
       avg(voltage_decivolts)::double precision / 10           AS avg_voltage_v,
       min(voltage_decivolts)::double precision / 10           AS min_voltage_v,
       max(voltage_decivolts)::double precision / 10           AS max_voltage_v,
       avg(current_milliamps)::double precision / 1000         AS avg_current_a,
       max(current_milliamps)::double precision / 1000         AS max_current_a,
       count(power_factor_percent)                             AS power_factor_readings,
       avg(power_factor_percent)::double precision / 100       AS avg_power_factor,
       count(frequency_centihertz)                             AS frequency_readings,
       avg(frequency_centihertz)::double precision / 100       AS avg_frequency_hz,
       max(temperature_decicelsius)::double precision / 10     AS max_temperature_c
FROM metrics
GROUP BY bucket, device_id
WITH NO DATA;

-- Averages of averages are weighted by how many readings each hour had, so a day's average equals
-- the average of its raw readings.
CREATE MATERIALIZED VIEW IF NOT EXISTS metrics_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false, timescaledb.create_group_indexes = false) AS
SELECT time_bucket(INTERVAL '1 day', bucket) AS bucket,
       device_id,
       sum(readings)::bigint                                   AS readings,
       sum(avg_power_w * readings) / sum(readings)             AS avg_power_w,
       min(min_power_w)                                        AS min_power_w,
       max(max_power_w)                                        AS max_power_w,
       sum(energy_milliwatt_hours)::bigint                     AS energy_milliwatt_hours,
       sum(energy_milliwatt_hours)::double precision / 1000    AS energy_wh,
       sum(voltage_readings)::bigint                           AS voltage_readings,
       sum(avg_voltage_v * voltage_readings) / nullif(sum(voltage_readings), 0)                AS avg_voltage_v,
       min(min_voltage_v)                                      AS min_voltage_v,
       max(max_voltage_v)                                      AS max_voltage_v,
       max(max_current_a)                                      AS max_current_a,
       sum(power_factor_readings)::bigint                      AS power_factor_readings,
       sum(avg_power_factor * power_factor_readings) / nullif(sum(power_factor_readings), 0)   AS avg_power_factor,
       sum(frequency_readings)::bigint                         AS frequency_readings,
       sum(avg_frequency_hz * frequency_readings) / nullif(sum(frequency_readings), 0)         AS avg_frequency_hz,
       max(max_temperature_c)                                  AS max_temperature_c
FROM metrics_hourly
GROUP BY 1, device_id
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS cost_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false, timescaledb.create_group_indexes = false) AS
SELECT time_bucket(INTERVAL '1 hour', time) AS bucket,
       device_id,
       rate_schedule_id,
       count(*)        AS periods,
       sum(energy_kwh) AS energy_kwh,
       sum(cost)       AS cost
FROM cost_calculations
GROUP BY bucket, device_id, rate_schedule_id
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS cost_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false, timescaledb.create_group_indexes = false) AS
SELECT time_bucket(INTERVAL '1 day', bucket) AS bucket,
       device_id,
       rate_schedule_id,
       sum(periods)::bigint AS periods,
       sum(energy_kwh)      AS energy_kwh,
       sum(cost)            AS cost
FROM cost_hourly
GROUP BY 1, device_id, rate_schedule_id
WITH NO DATA;

-- Indexes (counted in 003's inventory). The materialized hypertables already have an index on
-- bucket alone, made by TimescaleDB; the group-by indexes it would add are replaced by these.

-- Hourly chart of one device: SELECT ... FROM metrics_hourly WHERE device_id = $1 AND bucket >= $2 ORDER BY bucket
CREATE INDEX IF NOT EXISTS idx_metrics_hourly_device_bucket ON metrics_hourly (device_id, bucket DESC);
-- Daily chart of one device over months: SELECT ... FROM metrics_daily WHERE device_id = $1 AND bucket >= $2
CREATE INDEX IF NOT EXISTS idx_metrics_daily_device_bucket ON metrics_daily (device_id, bucket DESC);
-- Hourly cost of one device: SELECT ... FROM cost_hourly WHERE device_id = $1 AND bucket >= $2
CREATE INDEX IF NOT EXISTS idx_cost_hourly_device_bucket ON cost_hourly (device_id, bucket DESC);
-- Hourly cost by tariff (peak-hour comparison): SELECT ... FROM cost_hourly WHERE rate_schedule_id = $1 AND bucket >= $2
CREATE INDEX IF NOT EXISTS idx_cost_hourly_rate_schedule_bucket ON cost_hourly (rate_schedule_id, bucket DESC);
-- Monthly bill of one device: SELECT sum(cost) FROM cost_daily WHERE device_id = $1 AND bucket >= $2 AND bucket < $3
CREATE INDEX IF NOT EXISTS idx_cost_daily_device_bucket ON cost_daily (device_id, bucket DESC);
-- Monthly bill per tariff: SELECT sum(cost) FROM cost_daily WHERE rate_schedule_id = $1 AND bucket >= $2
CREATE INDEX IF NOT EXISTS idx_cost_daily_rate_schedule_bucket ON cost_daily (rate_schedule_id, bucket DESC);

-- Refresh policies (arithmetic above). The hourly views refresh every 30 minutes; the daily ones
-- hourly, which is plenty for buckets that close once a day.
SELECT add_continuous_aggregate_policy('metrics_hourly',
  start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
  schedule_interval => INTERVAL '30 minutes', if_not_exists => true);
SELECT add_continuous_aggregate_policy('metrics_daily',
  start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 hour',
  schedule_interval => INTERVAL '1 hour', if_not_exists => true);
SELECT add_continuous_aggregate_policy('cost_hourly',
  start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
  schedule_interval => INTERVAL '30 minutes', if_not_exists => true);
SELECT add_continuous_aggregate_policy('cost_daily',
  start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 hour',
  schedule_interval => INTERVAL '1 hour', if_not_exists => true);

-- Read-only views for everyone: the default privileges of 001 would also hand the application
-- INSERT/UPDATE/DELETE, which mean nothing on an aggregate.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON metrics_hourly, metrics_daily, cost_hourly, cost_daily FROM aetherlens_app;
GRANT SELECT ON metrics_hourly, metrics_daily, cost_hourly, cost_daily
  TO aetherlens_app, aetherlens_readonly, aetherlens_backup;
