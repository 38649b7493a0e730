-- 01-enable-timescaledb: runs once, when the container initialises its data directory
-- (docker-entrypoint-initdb.d, as the superuser, in $POSTGRES_DB).
-- The timescale/timescaledb image preloads the library and may already have created the
-- extension in its own init script; IF NOT EXISTS keeps this a harmless no-op then.
-- Everything else (tables, roles, policies) is the migration runner's job: migrations/versions.
CREATE EXTENSION IF NOT EXISTS timescaledb;
