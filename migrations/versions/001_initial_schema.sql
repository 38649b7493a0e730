-- 001_initial_schema: the core tables devices, users, api_tokens, rate_schedules, alerts and
-- plugins, their integrity rules, and three least-privilege NOLOGIN group roles:
--   aetherlens_app       read/write on the application tables, no DDL
--   aetherlens_readonly  SELECT, but not the password and token hashes
--   aetherlens_backup    SELECT on everything pg_dump reads, TimescaleDB's catalog included
-- Login roles join a group: CREATE ROLE grafana LOGIN PASSWORD '...' IN ROLE aetherlens_readonly;
-- migration_history, the 7th core table, is the migration runner's ledger: the runner creates it.
-- Plain PostgreSQL only: works on the Apache and the community edition. Transactional.

-- The runner and the container's init script create it too; this keeps the file self-contained.
CREATE EXTENSION IF NOT EXISTS timescaledb;

-- Roles are cluster-wide, so another database on this server may already have made them.
DO $$
DECLARE
  role_name text;
BEGIN
  FOREACH role_name IN ARRAY ARRAY['aetherlens_app', 'aetherlens_readonly', 'aetherlens_backup'] LOOP
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = role_name) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- a concurrent migration of another database created it first
      END;
    END IF;
  END LOOP;
END
$$;

-- Keeps updated_at honest without trusting every writer to set it.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

-- Integrations that poll devices (Shelly, TP-Link Kasa, Enphase Envoy, ...).
CREATE TABLE plugins (
  plugin_id   text PRIMARY KEY CHECK (plugin_id ~ '^[a-z][a-z0-9-]{1,62}$'),
  name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
  version     text NOT NULL CHECK (version ~ '^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$'),
  enabled     boolean NOT NULL DEFAULT true,
  -- Settings only; credentials belong in the application's secret store, not here.
  config      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(config) = 'object'),
  status      text NOT NULL DEFAULT 'inactive' CHECK (status IN ('active', 'inactive', 'error')),
  last_error  text CHECK (length(last_error) <= 4000),
  last_run_at timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CHECK (status <> 'error' OR last_error IS NOT NULL)
);

-- Tariffs. rates has one shape for every type (docs/schema.md):
--   {"default_period": "off_peak", "prices_per_kwh": {"peak": 0.62, "off_peak": 0.31},
--    "windows": [{"period": "peak", "days": ["mon", ...], "start": "16:00", "end": "21:00"}]}
-- Window times are local clock times in the schedule's timezone.
CREATE TABLE rate_schedules (
  rate_schedule_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name             text NOT NULL UNIQUE CHECK (length(btrim(name)) BETWEEN 1 AND 200),
  utility          text CHECK (length(utility) <= 200),
  schedule_type    text NOT NULL CHECK (schedule_type IN ('flat', 'tou', 'tiered')),
  currency         text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
  timezone         text NOT NULL DEFAULT 'UTC' CHECK (timezone ~ '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$'),
  rates            jsonb NOT NULL CHECK (
                     jsonb_typeof(rates) = 'object'
                     AND jsonb_typeof(rates -> 'prices_per_kwh') = 'object'
                     AND (rates -> 'prices_per_kwh') ? (rates ->> 'default_period')
                     AND jsonb_typeof(coalesce(rates -> 'windows', '[]')) = 'array'),
  effective_from   date NOT NULL,
  effective_to     date,
  is_active        boolean NOT NULL DEFAULT true,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CHECK (effective_to IS NULL OR effective_to > effective_from),
  -- A flat schedule has one price all day: no time windows.
  CHECK (schedule_type <> 'flat' OR jsonb_array_length(coalesce(rates -> 'windows', '[]')) = 0)
);

CREATE TABLE devices (
  device_id        text PRIMARY KEY CHECK (device_id ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
  name             text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
  device_type      text NOT NULL CHECK (device_type IN
                     ('smart_plug', 'solar_inverter', 'energy_monitor', 'ev_charger', 'battery', 'thermostat', 'other')),
  manufacturer     text CHECK (length(manufacturer) <= 200),
  model            text CHECK (length(model) <= 200),
  location         text CHECK (length(location) <= 200),
  plugin_id        text REFERENCES plugins (plugin_id) ON DELETE SET NULL,
  -- The tariff its consumption is priced with; NULL for producers (solar) and unpriced devices.
  rate_schedule_id bigint REFERENCES rate_schedules (rate_schedule_id) ON DELETE SET NULL,
  config           jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(config) = 'object'),
  metadata         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
  is_active        boolean NOT NULL DEFAULT true,
  last_seen        timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  user_id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username              text NOT NULL CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._-]{2,62}$'),
  email                 text CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' AND length(email) <= 254),
  -- Only a slow, salted hash can be stored: scrypt (N >= 2^14), argon2id (m >= 10 MiB) or bcrypt (cost >= 10).
  password_hash         text NOT NULL CHECK (
                          password_hash ~ '^\$scrypt\$ln=(1[4-9]|20),r=([89]|[12][0-9]|3[0-2]),p=([1-9]|1[0-6])\$[A-Za-z0-9+/]{22,}={0,2}\$[A-Za-z0-9+/]{43,}={0,2}$'
                          OR password_hash ~ '^\$argon2id\$v=19\$m=[1-9][0-9]{4,6},t=[1-9][0-9]?,p=[1-9][0-9]?\$[A-Za-z0-9+/]{22,}\$[A-Za-z0-9+/]{43,}$'
                          OR password_hash ~ '^\$2[aby]\$(1[0-9]|2[0-9]|3[01])\$[./A-Za-z0-9]{53}$'),
  role                  text NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user', 'viewer')),
  is_active             boolean NOT NULL DEFAULT true,
  failed_login_attempts integer NOT NULL DEFAULT 0 CHECK (failed_login_attempts >= 0),
  last_login_at         timestamptz,
  password_changed_at   timestamptz NOT NULL DEFAULT now(),
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);

-- Login by name or email, whatever the case the person types: SELECT ... WHERE lower(username) = lower($1)
CREATE UNIQUE INDEX idx_users_username_lower ON users (lower(username));
-- Login and password reset by email: SELECT ... WHERE lower(email) = lower($1)
CREATE UNIQUE INDEX idx_users_email_lower ON users (lower(email)) WHERE email IS NOT NULL;

-- Tokens are random (>= 256 bits) and shown once; only their sha256 is kept, so a fast hash is
-- enough (nothing to brute-force) and the lookup stays an equality on bytes.
CREATE TABLE api_tokens (
  token_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id      bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  name         text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
  token_hash   bytea NOT NULL CHECK (octet_length(token_hash) = 32),
  -- The first characters of the token, so a person can tell their tokens apart.
  token_prefix text NOT NULL CHECK (token_prefix ~ '^[A-Za-z0-9_]{4,16}$'),
  scopes       text[] NOT NULL DEFAULT ARRAY['read'] CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'write', 'admin']),
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz,
  last_used_at timestamptz,
  revoked_at   timestamptz,
  CHECK (expires_at IS NULL OR expires_at > created_at),
  CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);

-- Authenticating a request: SELECT ... WHERE token_hash = sha256($token)
CREATE UNIQUE INDEX idx_api_tokens_token_hash ON api_tokens (token_hash);

CREATE TABLE alerts (
  alert_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- NULL for alerts about the system rather than one device.
  device_id       text REFERENCES devices (device_id) ON DELETE CASCADE,
  alert_type      text NOT NULL CHECK (alert_type IN ('threshold', 'offline', 'anomaly', 'cost', 'power_quality', 'system')),
  severity        text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  message         text NOT NULL CHECK (length(btrim(message)) BETWEEN 1 AND 2000),
  details         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object'),
  triggered_at    timestamptz NOT NULL DEFAULT now(),
  acknowledged_at timestamptz,
  acknowledged_by bigint REFERENCES users (user_id) ON DELETE SET NULL,
  resolved_at     timestamptz,
  CHECK (acknowledged_at IS NULL OR acknowledged_at >= triggered_at),
  CHECK (acknowledged_by IS NULL OR acknowledged_at IS NOT NULL),
  CHECK (resolved_at IS NULL OR resolved_at >= triggered_at)
);

-- The alert engine's "is this already open?" check before raising: at most one open alert per
-- device and type. SELECT ... WHERE device_id = $1 AND alert_type = $2 AND resolved_at IS NULL
CREATE UNIQUE INDEX idx_alerts_open_device_type ON alerts (device_id, alert_type) WHERE resolved_at IS NULL;

CREATE TRIGGER trg_plugins_updated_at BEFORE UPDATE ON plugins FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_rate_schedules_updated_at BEFORE UPDATE ON rate_schedules FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_devices_updated_at BEFORE UPDATE ON devices FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_users_updated_at BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Privileges. Nobody but the migration role creates objects in public (PostgreSQL 15's default,
-- stated again for clusters upgraded from older versions).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO aetherlens_app, aetherlens_readonly, aetherlens_backup;

-- Named tables, not ALL TABLES: the application must not write the runner's ledger.
GRANT SELECT, INSERT, UPDATE, DELETE ON plugins, rate_schedules, devices, users, api_tokens, alerts TO aetherlens_app;

-- Read-only users (dashboards) never see password or token hashes: column grants on those two.
GRANT SELECT ON plugins, rate_schedules, devices, alerts TO aetherlens_readonly;
GRANT SELECT (user_id, username, email, role, is_active, failed_login_attempts, last_login_at,
              password_changed_at, created_at, updated_at) ON users TO aetherlens_readonly;
GRANT SELECT (token_id, user_id, name, token_prefix, scopes, created_at, expires_at, last_used_at,
              revoked_at) ON api_tokens TO aetherlens_readonly;

-- A backup reads everything, the ledger included.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO aetherlens_backup;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO aetherlens_backup;

-- Tables, views and sequences created later by the migration role get the same treatment.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO aetherlens_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO aetherlens_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO aetherlens_readonly, aetherlens_backup;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON SEQUENCES TO aetherlens_backup;

-- pg_dump also reads TimescaleDB's own schemas: the catalog and config tables (dumped as extension
-- configuration), the chunks, compressed chunks and materialized hypertables. Which schemas exist
-- depends on the TimescaleDB version, so grant on the ones this server has. Chunks copy their
-- hypertable's grants; the default privileges cover what the migration role creates there later.
-- After ALTER EXTENSION timescaledb UPDATE, re-check: an update may recreate catalog tables.
DO $$
DECLARE
  schema_name text;
BEGIN
  FOR schema_name IN
    SELECT nspname FROM pg_catalog.pg_namespace
    WHERE nspname IN ('_timescaledb_catalog', '_timescaledb_config', '_timescaledb_internal',
                      '_timescaledb_cache', '_timescaledb_functions', '_timescaledb_debug',
                      'timescaledb_information', 'timescaledb_experimental')
    ORDER BY nspname
  LOOP
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO aetherlens_backup', schema_name);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO aetherlens_backup', schema_name);
    EXECUTE format('GRANT SELECT ON ALL SEQUENCES IN SCHEMA %I TO aetherlens_backup', schema_name);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO aetherlens_backup', schema_name);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON SEQUENCES TO aetherlens_backup', schema_name);
  END LOOP;
END
$$;
