-- TimescaleDB: rollups for the query API (time series by release, hourly grain, pages,
-- unique-user sketches) as real-time continuous aggregates, and the indexes event search and
-- the live view need. A continuous aggregate cannot gain a GROUP BY column, so
-- event_rollups_1m is dropped and created again with release. Like every aggregate here
-- (created empty, as a transaction requires), it is filled by its refresh policy and meanwhile
-- computed from events at query time (materialized_only = false): answers are complete at once.
-- The relations have the same column names and types as the plain PostgreSQL tables, so the
-- same queries run on both (queries name their columns; order may differ).

-- Shared helpers (also used by the TimescaleDB continuous aggregates: all IMMUTABLE).

-- The path of a page URL: scheme, host, query and fragment removed; '/' when empty.
CREATE OR REPLACE FUNCTION logsight_url_path(url text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT left(coalesce(nullif(
        substring(url FROM '^(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?://[^/?#]*)?([^?#]*)'), ''), '/'), 512)
$$;

-- HyperLogLog with 2^14 registers (standard error 0.81%), kept as plain rows
-- (register, rho) so that continuous aggregates can build it with max() and any grain can be
-- merged with GROUP BY register. The low 14 bits of a 64-bit hash pick the register; rho is
-- the position of the first 1-bit in the remaining 50 bits (51 when they are all zero).
CREATE OR REPLACE FUNCTION logsight_hll_register(user_id text) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (hashtextextended(user_id, 0) & 16383)::smallint
$$;

CREATE OR REPLACE FUNCTION logsight_hll_rho(user_id text) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (51 - length(ltrim(((hashtextextended(user_id, 0) >> 14)::bit(50))::text, '0')))::smallint
$$;

DROP MATERIALIZED VIEW IF EXISTS event_rollups_1m;

CREATE MATERIALIZED VIEW event_rollups_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT project_id,
       time_bucket(INTERVAL '1 minute', timestamp) AS bucket,
       type,
       name,
       level,
       coalesce(release, '') AS release,
       count(*) AS events
FROM events
GROUP BY project_id, time_bucket(INTERVAL '1 minute', timestamp), type, name, level, coalesce(release, '')
WITH NO DATA;

CREATE MATERIALIZED VIEW event_rollups_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT project_id,
       time_bucket(INTERVAL '1 hour', timestamp) AS bucket,
       type,
       name,
       level,
       coalesce(release, '') AS release,
       count(*) AS events
FROM events
GROUP BY project_id, time_bucket(INTERVAL '1 hour', timestamp), type, name, level, coalesce(release, '')
WITH NO DATA;

CREATE MATERIALIZED VIEW page_rollups_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT project_id,
       time_bucket(INTERVAL '1 minute', timestamp) AS bucket,
       logsight_url_path(context->>'url') AS path,
       count(*) AS views
FROM events
WHERE type = 'pageview'
GROUP BY project_id, time_bucket(INTERVAL '1 minute', timestamp), logsight_url_path(context->>'url')
WITH NO DATA;

CREATE MATERIALIZED VIEW page_rollups_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT project_id,
       time_bucket(INTERVAL '1 hour', timestamp) AS bucket,
       logsight_url_path(context->>'url') AS path,
       count(*) AS views
FROM events
WHERE type = 'pageview'
GROUP BY project_id, time_bucket(INTERVAL '1 hour', timestamp), logsight_url_path(context->>'url')
WITH NO DATA;

CREATE MATERIALIZED VIEW user_sketches_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT project_id,
       time_bucket(INTERVAL '1 hour', timestamp) AS bucket,
       logsight_hll_register(user_id) AS register,
       max(logsight_hll_rho(user_id)) AS rho
FROM events
WHERE user_id IS NOT NULL
GROUP BY project_id, time_bucket(INTERVAL '1 hour', timestamp), logsight_hll_register(user_id)
WITH NO DATA;

CREATE MATERIALIZED VIEW user_sketches_1d
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT project_id,
       time_bucket(INTERVAL '1 day', timestamp) AS bucket,
       logsight_hll_register(user_id) AS register,
       max(logsight_hll_rho(user_id)) AS rho
FROM events
WHERE user_id IS NOT NULL
GROUP BY project_id, time_bucket(INTERVAL '1 day', timestamp), logsight_hll_register(user_id)
WITH NO DATA;

-- Late events (up to 30 days, the ingest clamp) invalidate old buckets; the refresh window
-- covers them, and only invalidated ranges are recomputed.
SELECT add_continuous_aggregate_policy('event_rollups_1m',
    start_offset => INTERVAL '31 days',
    end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '1 minute',
    if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('event_rollups_1h',
    start_offset => INTERVAL '31 days',
    end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '5 minutes',
    if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('page_rollups_1m',
    start_offset => INTERVAL '31 days',
    end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '1 minute',
    if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('page_rollups_1h',
    start_offset => INTERVAL '31 days',
    end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '5 minutes',
    if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('user_sketches_1h',
    start_offset => INTERVAL '31 days',
    end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '5 minutes',
    if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('user_sketches_1d',
    start_offset => INTERVAL '31 days',
    end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '1 hour',
    if_not_exists => TRUE);

-- Merges read (project, bucket) ranges.
CREATE INDEX IF NOT EXISTS user_sketches_1h_project_bucket_idx ON user_sketches_1h (project_id, bucket);
CREATE INDEX IF NOT EXISTS user_sketches_1d_project_bucket_idx ON user_sketches_1d (project_id, bucket);

-- The live view reads by acceptance time (client timestamps may be late).
CREATE INDEX events_received_idx ON events (project_id, received_at);

-- One event by id (links from alerts and issues carry only the id).
CREATE INDEX events_event_id_idx ON events (project_id, event_id);

-- Free-text search over name and message: trigram indexes make ILIKE '%term%' usable.
-- pg_trgm is a contrib extension; without it (or without the privilege to create it) search
-- still works, by scanning the project's time range.
DO $$
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
        RAISE WARNING 'pg_trgm is not available (%); event search will not use an index', SQLERRM;
    END;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        EXECUTE format('CREATE INDEX events_name_trgm_idx ON events USING gin (name %I.gin_trgm_ops)',
                       (SELECT n.nspname FROM pg_extension e
                        JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'));
        EXECUTE format('CREATE INDEX events_message_trgm_idx ON events USING gin (message %I.gin_trgm_ops)',
                       (SELECT n.nspname FROM pg_extension e
                        JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'));
    END IF;
END
$$;
