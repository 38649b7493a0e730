-- 006_retention_policies: how long each level of detail is kept.
--   metrics, cost_calculations (raw)        90 days
--   metrics_hourly, cost_hourly             1 year
--   metrics_daily, cost_daily               5 years
-- requires: community
--
-- Transactional. Retention drops whole chunks once all of a chunk is older than drop_after, so
-- data lives up to one chunk interval longer than stated (raw: 7 days; the aggregates'
-- materialized hypertables have longer chunks).
--
-- The rule: a refresh window must never reach into data that retention already dropped, or the
-- refresh would recompute those buckets from nothing and delete good aggregates. With 004:
--   metrics_hourly / cost_hourly  refresh start_offset 3 days   <  90 days raw retention
--                                                                  (3 < 90: 87 days to spare)
--   metrics_daily / cost_daily    refresh start_offset 7 days   <  1 year hourly retention
--                                                                  (7 < 365: 358 days to spare)
--   and each level keeps longer than the one it is built from: 90 days < 1 year < 5 years,
--   so a daily bucket outlives the hourly rows it was computed from.
-- Retention on raw data does not touch the aggregates: the hourly rows of a dropped raw chunk stay
-- (until their own year is up), which is the point of keeping roll-ups.
-- Anyone changing an offset here or in 004 must keep both inequalities; test/schema checks them.

SELECT add_retention_policy('metrics', drop_after => INTERVAL '90 days', if_not_exists => true);
SELECT add_retention_policy('cost_calculations', drop_after => INTERVAL '90 days', if_not_exists => true);

SELECT add_retention_policy('metrics_hourly', drop_after => INTERVAL '1 year', if_not_exists => true);
SELECT add_retention_policy('cost_hourly', drop_after => INTERVAL '1 year', if_not_exists => true);

SELECT add_retention_policy('metrics_daily', drop_after => INTERVAL '5 years', if_not_exists => true);
SELECT add_retention_policy('cost_daily', drop_after => INTERVAL '5 years', if_not_exists => true);
