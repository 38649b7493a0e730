-- 003_performance_indexes: the indexes the AetherLens API's queries need.
-- Works on the Apache and the community edition. Transactional.
--
-- Counting rule for the specification's "31 performance indexes": every index a migration creates
-- explicitly with CREATE [UNIQUE] INDEX, all named idx_*. Indexes PostgreSQL makes for PRIMARY KEY
-- and UNIQUE constraints, and the ones TimescaleDB makes by itself (the materialized hypertables'
-- bucket index), do not count; the hypertables' default indexes are switched off in 002.
--   001  4  idx_users_username_lower, idx_users_email_lower, idx_api_tokens_token_hash,
--           idx_alerts_open_device_type                 (unique: they are also integrity rules)
--   002  2  idx_metrics_device_time, idx_cost_calculations_device_time   (unique, see 002)
--   003 19  below
--   004  6  on the continuous aggregates (community edition only)
--   total 31; an Apache-edition database (001-003) has 25.
-- The specification had 3 partial indexes with NOW() in the predicate, which PostgreSQL rejects
-- (predicates must be immutable). Here the "recent" part stays in the query (time > now() - ...),
-- and predicates only use constants: revoked_at IS NULL, is_active, acknowledged_at IS NULL, ...
-- Each index names, in its comment, the query it serves.

-- devices ------------------------------------------------------------------------------------

-- Costing devices by tariff, and the FK check when a schedule changes:
-- SELECT device_id FROM devices WHERE rate_schedule_id = $1
CREATE INDEX idx_devices_rate_schedule_id ON devices (rate_schedule_id);
-- A plugin loading the devices it polls (and the FK's ON DELETE SET NULL):
-- SELECT ... FROM devices WHERE plugin_id = $1 AND is_active
CREATE INDEX idx_devices_plugin_id ON devices (plugin_id);
-- Offline detection: SELECT ... WHERE is_active AND last_seen < now() - interval '10 minutes'
CREATE INDEX idx_devices_active_last_seen ON devices (last_seen) WHERE is_active;
-- Device list filtered by kind: GET /devices?type=solar_inverter
CREATE INDEX idx_devices_active_type ON devices (device_type) WHERE is_active;
-- Room view: GET /devices?location=Office
CREATE INDEX idx_devices_active_location ON devices (location) WHERE is_active;

-- api_tokens ---------------------------------------------------------------------------------

-- "My tokens" page, and the cascade when a user is deleted: SELECT ... WHERE user_id = $1
CREATE INDEX idx_api_tokens_user_id ON api_tokens (user_id);
-- Expiry sweep: UPDATE api_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND expires_at < now()
CREATE INDEX idx_api_tokens_unrevoked_expires_at ON api_tokens (expires_at) WHERE revoked_at IS NULL;

-- rate_schedules -----------------------------------------------------------------------------

-- Active schedule lookup: SELECT ... WHERE is_active AND effective_from <= $1
--   AND (effective_to IS NULL OR effective_to > $1) ORDER BY effective_from DESC LIMIT 1
CREATE INDEX idx_rate_schedules_active_effective ON rate_schedules (effective_from DESC) WHERE is_active;

-- alerts -------------------------------------------------------------------------------------

-- The dashboard's badge and inbox: SELECT ... WHERE acknowledged_at IS NULL ORDER BY triggered_at DESC
CREATE INDEX idx_alerts_unacknowledged ON alerts (triggered_at DESC) WHERE acknowledged_at IS NULL;
-- A device's alert history: SELECT ... WHERE device_id = $1 ORDER BY triggered_at DESC LIMIT 50
CREATE INDEX idx_alerts_device_triggered ON alerts (device_id, triggered_at DESC);
-- Open alerts by severity: SELECT ... WHERE resolved_at IS NULL AND severity = 'critical' ORDER BY triggered_at DESC
CREATE INDEX idx_alerts_open_severity ON alerts (severity, triggered_at DESC) WHERE resolved_at IS NULL;
-- Deleting a user (ON DELETE SET NULL) and "acknowledged by me": SELECT ... WHERE acknowledged_by = $1
CREATE INDEX idx_alerts_acknowledged_by ON alerts (acknowledged_by) WHERE acknowledged_by IS NOT NULL;
-- Timeline of all alerts: SELECT ... WHERE triggered_at >= $1 ORDER BY triggered_at DESC
CREATE INDEX idx_alerts_triggered_at ON alerts (triggered_at DESC);
-- Housekeeping: DELETE FROM alerts WHERE resolved_at < now() - interval '180 days'
CREATE INDEX idx_alerts_resolved_at ON alerts (resolved_at) WHERE resolved_at IS NOT NULL;

-- plugins ------------------------------------------------------------------------------------

-- The poller's next job, most overdue first: SELECT ... WHERE enabled ORDER BY last_run_at NULLS FIRST LIMIT 1
CREATE INDEX idx_plugins_enabled_last_run ON plugins (last_run_at NULLS FIRST) WHERE enabled;

-- metrics (hypertable: each index is created on every chunk) ----------------------------------

-- Site-wide views over a time range, all devices:
-- SELECT time_bucket('5 minutes', time), sum(power_deciwatts) FROM metrics WHERE time > now() - interval '1 hour' GROUP BY 1
CREATE INDEX idx_metrics_time ON metrics (time DESC);
-- Fault history, tiny because faults are rare: SELECT ... WHERE state = 'fault' AND device_id = $1 ORDER BY time DESC
CREATE INDEX idx_metrics_device_faults ON metrics (device_id, time DESC) WHERE state = 'fault';

-- cost_calculations (hypertable) -------------------------------------------------------------

-- Total cost of all devices over a period: SELECT sum(cost) FROM cost_calculations WHERE time >= $1 AND time < $2
CREATE INDEX idx_cost_calculations_time ON cost_calculations (time DESC);
-- Re-pricing after a tariff correction (and the FK check): SELECT ... WHERE rate_schedule_id = $1 AND time >= $2
CREATE INDEX idx_cost_calculations_rate_schedule_time ON cost_calculations (rate_schedule_id, time DESC);
