-- TimescaleDB: events is a hypertable of 1-day chunks, compressed after 7 days (segmented by
-- project), with rollups as continuous aggregates. Retention is applied by `logsight maintain`,
-- which keeps the retention policy in step with the longest project retention.
CREATE TABLE events (
    project_id   uuid NOT NULL,
    event_id     uuid NOT NULL,
    timestamp    timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    type         text NOT NULL,
    name         text NOT NULL,
    level        text NOT NULL,
    message      text,
    user_id      text,
    session_id   text,
    release      text,
    environment  text,
    fingerprint  text,
    browser      text,
    os           text,
    device       text,
    properties   jsonb NOT NULL DEFAULT '{}',
    context      jsonb,
    user_traits  jsonb,
    error        jsonb,
    sdk          jsonb,
    meta         jsonb,
    PRIMARY KEY (project_id, timestamp, event_id)
);

SELECT create_hypertable(
    'events', 'timestamp',
    chunk_time_interval => INTERVAL '1 day',
    create_default_indexes => FALSE,
    if_not_exists => TRUE
);

CREATE INDEX events_name_idx ON events (project_id, name, timestamp DESC);
CREATE INDEX events_user_idx ON events (project_id, user_id, timestamp DESC)
    WHERE user_id IS NOT NULL;
CREATE INDEX events_session_idx ON events (project_id, session_id, timestamp DESC)
    WHERE session_id IS NOT NULL;
CREATE INDEX events_fingerprint_idx ON events (project_id, fingerprint, timestamp DESC)
    WHERE fingerprint IS NOT NULL;

-- Every primary-key column is a segment-by or order-by column, so uniqueness stays cheap to
-- check on compressed chunks (ON CONFLICT DO NOTHING for late, redelivered events).
ALTER TABLE events SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'project_id',
    timescaledb.compress_orderby = 'timestamp DESC, event_id'
);
SELECT add_compression_policy('events', INTERVAL '7 days', if_not_exists => TRUE);

-- Real-time continuous aggregates (materialized_only = false): fresh rows are included at
-- query time, so the dashboard never waits for a refresh.
CREATE MATERIALIZED VIEW event_rollups_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT project_id,
       time_bucket(INTERVAL '1 minute', timestamp) AS bucket,
       type,
       name,
       level,
       count(*) AS events
FROM events
GROUP BY project_id, time_bucket(INTERVAL '1 minute', timestamp), type, name, level
WITH NO DATA;

CREATE MATERIALIZED VIEW user_rollups_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT project_id,
       time_bucket(INTERVAL '1 minute', timestamp) AS bucket,
       user_id
FROM events
WHERE user_id IS NOT NULL
GROUP BY project_id, time_bucket(INTERVAL '1 minute', timestamp), user_id
WITH NO DATA;

-- Late events (up to 30 days, the ingest clamp) invalidate old buckets; the refresh window
-- covers them, and only invalidated ranges are recomputed.
SELECT add_continuous_aggregate_policy('event_rollups_1m',
    start_offset => INTERVAL '31 days',
    end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '1 minute',
    if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('user_rollups_1m',
    start_offset => INTERVAL '31 days',
    end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '1 minute',
    if_not_exists => TRUE);
