-- The databases of the mesh mode: one per service, repitbot_<service>, owned by the
-- connecting role (the application's role). The PostgreSQL container runs this once, on an
-- empty data directory (/docker-entrypoint-initdb.d); it is safe to run again by hand:
--   GRAFANA_ANALYTICS_DB_PASSWORD=... psql -U repitbot -d postgres -f deploy/postgres/init.sql
--
-- It also creates `grafana_reader`, the read-only role Grafana uses on repitbot_analytics
-- (the tables behind the teacher dashboards), and nothing else can reach.
\set ON_ERROR_STOP on
\getenv grafana_password GRAFANA_ANALYTICS_DB_PASSWORD
\if :{?grafana_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'GRAFANA_ANALYTICS_DB_PASSWORD is not set'; END $$;
\endif

SELECT format('CREATE DATABASE %I', 'repitbot_' || name)
FROM unnest(ARRAY['user', 'lesson', 'homework', 'payment', 'material',
                  'notification', 'analytics', 'student', 'dictionary']) AS name
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'repitbot_' || name)
\gexec

-- Each service's database is for its own service: other roles may not even connect.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', datname)
FROM pg_database WHERE datname LIKE 'repitbot\_%'
\gexec

SELECT 'CREATE ROLE grafana_reader LOGIN'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'grafana_reader')
\gexec
ALTER ROLE grafana_reader WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'grafana_password';
ALTER ROLE grafana_reader SET default_transaction_read_only = on;
GRANT CONNECT ON DATABASE repitbot_analytics TO grafana_reader;

\connect repitbot_analytics
GRANT USAGE ON SCHEMA public TO grafana_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO grafana_reader;
-- Tables the analytics service's migrations create later (as this same role).
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO grafana_reader;
