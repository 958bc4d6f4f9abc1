-- Database roles for the mcp-postgres backends: layer 1 of the three read-only layers.
--
--   mcp_ro  used by postgres-ro deployments: can read every table and the statistics views,
--           cannot write anything; its sessions start read-only.
--   mcp_rw  used by postgres-rw deployments: reads and writes data, may cancel/terminate
--           sessions of non-superusers.
--
-- Idempotent: run it again after changes. No passwords here: set them separately and store
-- them in the deployments' Secrets (DATABASE_URL), e.g.
--     ALTER ROLE mcp_ro PASSWORD '...';   -- or \password mcp_ro in psql
-- Needs PostgreSQL 14+ (pg_read_all_data / pg_write_all_data). Run as a superuser, or on
-- RDS / Aurora as the master user (rds_superuser), connected to the application database:
--     psql "host=... dbname=app user=postgres sslmode=verify-full" -v ON_ERROR_STOP=1 -f roles.sql
-- Role settings (ALTER ROLE ... SET) take effect for new sessions; restart the pods (or wait
-- for pool recycling) after changing them.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mcp_ro') THEN
        CREATE ROLE mcp_ro LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mcp_rw') THEN
        CREATE ROLE mcp_rw LOGIN;
    END IF;
END
$$;

-- Neither role may do more than its grants: no superuser, no role or database creation, no
-- replication, no RLS bypass, and a bounded share of the connection slots.
-- INHERIT: the privileges of the predefined roles granted below apply without SET ROLE.
ALTER ROLE mcp_ro LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS
    CONNECTION LIMIT 10;
ALTER ROLE mcp_rw LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS
    CONNECTION LIMIT 10;

-- Read-only role: sessions start read-only, statements are bounded in time, idle transactions
-- do not hold locks for long.
ALTER ROLE mcp_ro SET default_transaction_read_only = on;
ALTER ROLE mcp_ro SET statement_timeout = '30s';
ALTER ROLE mcp_ro SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE mcp_ro SET lock_timeout = '5s';

ALTER ROLE mcp_rw SET statement_timeout = '60s';
ALTER ROLE mcp_rw SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE mcp_rw SET lock_timeout = '10s';

-- pg_read_all_data: SELECT on every table, view and sequence (no writes, no DDL).
-- pg_monitor: pg_stat_activity of every session, pg_stat_statements, pg_blocking_pids, sizes
-- (it includes pg_read_all_stats and pg_read_all_settings).
GRANT pg_read_all_data, pg_monitor TO mcp_ro;
-- pg_write_all_data: INSERT/UPDATE/DELETE everywhere (no DDL). pg_signal_backend: cancel and
-- terminate sessions of non-superusers.
GRANT pg_read_all_data, pg_write_all_data, pg_monitor, pg_signal_backend TO mcp_rw;

-- What PUBLIC may do, mcp_ro may do too. PostgreSQL 15 no longer grants CREATE on schema
-- public to PUBLIC, but a database upgraded in place from an older version may: check with
--     SELECT has_schema_privilege('mcp_ro', 'public', 'CREATE');
-- and, if true and the application does not rely on it, run
--     REVOKE CREATE ON SCHEMA public FROM PUBLIC;
-- (Not done here: it changes what the application's roles may do.)
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO mcp_ro, mcp_rw', current_database());
END
$$;
