-- TimescaleDB: the rollups are tables that the processor maintains in the same statement as the
-- events it inserts, as on plain PostgreSQL, so a statistic counts an event as soon as the event
-- can be searched, whatever its timestamp. They are hypertables of 1-day chunks compressed after
-- 7 days, like events, and `logsight maintain` drops their chunks at the same day boundary as
-- the events' chunks.
--
-- They used to be real-time continuous aggregates, which compute from events only above their
-- watermark: an event dated earlier (late, offline-queued, or old but within the 30-day clamp)
-- was missing from the statistics until the next refresh, up to an hour for the daily sketches.
--
-- A fresh database never had those aggregates (0002 and 0005 no longer create them): for it the
-- first two statements find nothing. A database migrated before has them, with their refresh
-- policies and the retention policies `logsight maintain` used to keep: every job is deleted
-- first (delete_job terminates a job that is running, so no refresh races the drop), then the
-- aggregates are dropped, and the tables are filled once from the events already stored. The
-- retention policy on events goes too: `logsight maintain` drops chunks itself, so that the
-- issue counters follow exactly what it removes.
--
-- Writes to events wait for this transaction (the lock below), so the fill counts every stored
-- event once; a processor batch meanwhile waits, or fails while the tables do not exist yet and
-- is retried.

LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE;

DO $$
DECLARE
    job integer;
BEGIN
    FOR job IN
        SELECT DISTINCT j.job_id
        FROM timescaledb_information.jobs j
        LEFT JOIN timescaledb_information.continuous_aggregates c
          ON c.view_schema = current_schema()
         AND c.view_name IN ('event_rollups_1m', 'event_rollups_1h', 'page_rollups_1m',
                             'page_rollups_1h', 'user_rollups_1m', 'user_sketches_1h',
                             'user_sketches_1d')
         -- Policies of an aggregate are listed under its view (2.28) or under its
         -- materialization hypertable (earlier releases).
         AND (j.hypertable_schema, j.hypertable_name) IN (
                (c.view_schema, c.view_name),
                (c.materialization_hypertable_schema, c.materialization_hypertable_name))
        WHERE c.view_name IS NOT NULL
           OR (j.proc_name = 'policy_retention'
               AND j.hypertable_schema = current_schema() AND j.hypertable_name = 'events')
        ORDER BY j.job_id
    LOOP
        PERFORM delete_job(job);
    END LOOP;
END
$$;

DROP MATERIALIZED VIEW IF EXISTS event_rollups_1m;
DROP MATERIALIZED VIEW IF EXISTS event_rollups_1h;
DROP MATERIALIZED VIEW IF EXISTS page_rollups_1m;
DROP MATERIALIZED VIEW IF EXISTS page_rollups_1h;
DROP MATERIALIZED VIEW IF EXISTS user_rollups_1m;
DROP MATERIALIZED VIEW IF EXISTS user_sketches_1h;
DROP MATERIALIZED VIEW IF EXISTS user_sketches_1d;

-- The same tables as on plain PostgreSQL (0002 and 0005 there, columns in the same order), so
-- the same statements write and read them.
CREATE TABLE event_rollups_1m (
    project_id  uuid NOT NULL,
    bucket      timestamptz NOT NULL,
    type        text NOT NULL,
    name        text NOT NULL,
    level       text NOT NULL,
    events      bigint NOT NULL,
    release     text NOT NULL DEFAULT '',
    PRIMARY KEY (project_id, bucket, type, name, level, release)
);

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

CREATE TABLE user_rollups_1m (
    project_id  uuid NOT NULL,
    bucket      timestamptz NOT NULL,
    user_id     text NOT NULL,
    PRIMARY KEY (project_id, bucket, user_id)
);

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

-- 1-day chunks like events: a chunk holds the rollups of one UTC day, and is dropped together
-- with that day's events chunk. The primary keys serve every read, so no default index.
SELECT create_hypertable('event_rollups_1m', 'bucket', chunk_time_interval => INTERVAL '1 day',
                         create_default_indexes => FALSE, if_not_exists => TRUE);
SELECT create_hypertable('event_rollups_1h', 'bucket', chunk_time_interval => INTERVAL '1 day',
                         create_default_indexes => FALSE, if_not_exists => TRUE);
SELECT create_hypertable('page_rollups_1m', 'bucket', chunk_time_interval => INTERVAL '1 day',
                         create_default_indexes => FALSE, if_not_exists => TRUE);
SELECT create_hypertable('page_rollups_1h', 'bucket', chunk_time_interval => INTERVAL '1 day',
                         create_default_indexes => FALSE, if_not_exists => TRUE);
SELECT create_hypertable('user_rollups_1m', 'bucket', chunk_time_interval => INTERVAL '1 day',
                         create_default_indexes => FALSE, if_not_exists => TRUE);
SELECT create_hypertable('user_sketches_1h', 'bucket', chunk_time_interval => INTERVAL '1 day',
                         create_default_indexes => FALSE, if_not_exists => TRUE);
SELECT create_hypertable('user_sketches_1d', 'bucket', chunk_time_interval => INTERVAL '1 day',
                         create_default_indexes => FALSE, if_not_exists => TRUE);

-- The rollups of the events already stored (none on a fresh database).
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

INSERT INTO user_rollups_1m (project_id, bucket, user_id)
SELECT DISTINCT project_id, date_bin('1 minute', timestamp, TIMESTAMPTZ '2000-01-01Z'), user_id
FROM events
WHERE user_id IS NOT NULL;

INSERT INTO user_sketches_1h (project_id, bucket, register, rho)
SELECT project_id, date_bin('1 hour', bucket, TIMESTAMPTZ '2000-01-01Z'),
       logsight_hll_register(user_id), max(logsight_hll_rho(user_id))
FROM user_rollups_1m
GROUP BY 1, 2, 3;

INSERT INTO user_sketches_1d (project_id, bucket, register, rho)
SELECT project_id, date_bin('1 day', bucket, TIMESTAMPTZ '2000-01-01Z'), register, max(rho)
FROM user_sketches_1h
GROUP BY 1, 2, 3;

-- Compressed like events: segmented by project, every primary-key column a segment-by or
-- order-by column so that the processor's upserts (late events reach chunks up to 30 days old)
-- check uniqueness cheaply on compressed chunks.
ALTER TABLE event_rollups_1m SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'project_id',
    timescaledb.compress_orderby = 'bucket DESC, type, name, level, release'
);
ALTER TABLE event_rollups_1h SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'project_id',
    timescaledb.compress_orderby = 'bucket DESC, type, name, level, release'
);
ALTER TABLE page_rollups_1m SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'project_id',
    timescaledb.compress_orderby = 'bucket DESC, path'
);
ALTER TABLE page_rollups_1h SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'project_id',
    timescaledb.compress_orderby = 'bucket DESC, path'
);
ALTER TABLE user_rollups_1m SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'project_id',
    timescaledb.compress_orderby = 'bucket DESC, user_id'
);
ALTER TABLE user_sketches_1h SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'project_id',
    timescaledb.compress_orderby = 'bucket DESC, register'
);
ALTER TABLE user_sketches_1d SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'project_id',
    timescaledb.compress_orderby = 'bucket DESC, register'
);
SELECT add_compression_policy('event_rollups_1m', INTERVAL '7 days', if_not_exists => TRUE);
SELECT add_compression_policy('event_rollups_1h', INTERVAL '7 days', if_not_exists => TRUE);
SELECT add_compression_policy('page_rollups_1m', INTERVAL '7 days', if_not_exists => TRUE);
SELECT add_compression_policy('page_rollups_1h', INTERVAL '7 days', if_not_exists => TRUE);
SELECT add_compression_policy('user_rollups_1m', INTERVAL '7 days', if_not_exists => TRUE);
SELECT add_compression_policy('user_sketches_1h', INTERVAL '7 days', if_not_exists => TRUE);
SELECT add_compression_policy('user_sketches_1d', INTERVAL '7 days', if_not_exists => TRUE);
