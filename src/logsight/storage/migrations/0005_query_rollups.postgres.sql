-- Plain PostgreSQL: rollups for the query API (time series by release, hourly grain, pages,
-- unique-user sketches) and the indexes event search and the live view need.
--
-- The processor maintains every rollup table from the rows it actually inserts; the tables
-- created or re-keyed here are rebuilt once from the events already stored (a concurrent
-- processor statement waits on the table locks taken below, so nothing is counted twice).

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

-- Event counts gain the release (for group by release); '' stands for "no release" because
-- a primary-key column cannot be NULL.
LOCK TABLE event_rollups_1m IN ACCESS EXCLUSIVE MODE;
ALTER TABLE event_rollups_1m ADD COLUMN release text NOT NULL DEFAULT '';
ALTER TABLE event_rollups_1m DROP CONSTRAINT event_rollups_1m_pkey;
ALTER TABLE event_rollups_1m
    ADD CONSTRAINT event_rollups_1m_pkey PRIMARY KEY (project_id, bucket, type, name, level, release);

-- Long ranges read hours instead of minutes (60 times fewer rows).
CREATE TABLE event_rollups_1h (
    project_id  uuid NOT NULL,
    bucket      timestamptz NOT NULL,
    type        text NOT NULL,
    name        text NOT NULL,
    level       text NOT NULL,
    release     text NOT NULL,
    events      bigint NOT NULL,
    PRIMARY KEY (project_id, bucket, type, name, level, release)
);

-- Page views by URL path, for "top pages".
CREATE TABLE page_rollups_1m (
    project_id  uuid NOT NULL,
    bucket      timestamptz NOT NULL,
    path        text NOT NULL,
    views       bigint NOT NULL,
    PRIMARY KEY (project_id, bucket, path)
);

CREATE TABLE page_rollups_1h (
    project_id  uuid NOT NULL,
    bucket      timestamptz NOT NULL,
    path        text NOT NULL,
    views       bigint NOT NULL,
    PRIMARY KEY (project_id, bucket, path)
);

-- Unique-user sketches per hour and per UTC day: merging them costs registers, not users.
-- rho is INCLUDEd so merges are index-only scans.
CREATE TABLE user_sketches_1h (
    project_id  uuid NOT NULL,
    bucket      timestamptz NOT NULL,
    register    smallint NOT NULL,
    rho         smallint NOT NULL,
    PRIMARY KEY (project_id, bucket, register) INCLUDE (rho)
);

CREATE TABLE user_sketches_1d (
    project_id  uuid NOT NULL,
    bucket      timestamptz NOT NULL,
    register    smallint NOT NULL,
    rho         smallint NOT NULL,
    PRIMARY KEY (project_id, bucket, register) INCLUDE (rho)
);

LOCK TABLE events IN SHARE MODE;

DELETE FROM event_rollups_1m;
INSERT INTO event_rollups_1m (project_id, bucket, type, name, level, release, events)
SELECT project_id, date_bin('1 minute', timestamp, TIMESTAMPTZ '2000-01-01Z'), type, name, level,
       coalesce(release, ''), count(*)
FROM events
GROUP BY 1, 2, 3, 4, 5, 6;

INSERT INTO event_rollups_1h (project_id, bucket, type, name, level, release, events)
SELECT project_id, date_bin('1 hour', bucket, TIMESTAMPTZ '2000-01-01Z'), type, name, level,
       release, sum(events)
FROM event_rollups_1m
GROUP BY 1, 2, 3, 4, 5, 6;

INSERT INTO page_rollups_1m (project_id, bucket, path, views)
SELECT project_id, date_bin('1 minute', timestamp, TIMESTAMPTZ '2000-01-01Z'),
       logsight_url_path(context->>'url'), count(*)
FROM events
WHERE type = 'pageview'
GROUP BY 1, 2, 3;

INSERT INTO page_rollups_1h (project_id, bucket, path, views)
SELECT project_id, date_bin('1 hour', bucket, TIMESTAMPTZ '2000-01-01Z'), path, sum(views)
FROM page_rollups_1m
GROUP BY 1, 2, 3;

INSERT INTO user_sketches_1h (project_id, bucket, register, rho)
SELECT project_id, date_bin('1 hour', bucket, TIMESTAMPTZ '2000-01-01Z'),
       logsight_hll_register(user_id), max(logsight_hll_rho(user_id))
FROM user_rollups_1m
GROUP BY 1, 2, 3;

INSERT INTO user_sketches_1d (project_id, bucket, register, rho)
SELECT project_id, date_bin('1 day', bucket, TIMESTAMPTZ '2000-01-01Z'), register, max(rho)
FROM user_sketches_1h
GROUP BY 1, 2, 3;

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
