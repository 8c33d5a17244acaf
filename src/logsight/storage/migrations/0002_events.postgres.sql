-- Plain PostgreSQL: events range-partitioned by day. Partitions are created ahead of time
-- (and on demand by the processor) and dropped for retention by `logsight maintain`.
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
    -- The dedup key: ingest fixes event_id and timestamp before queueing, so a redelivered
    -- message maps to the same key. Leading (project_id, timestamp) serves every time-range scan.
    PRIMARY KEY (project_id, timestamp, event_id)
) PARTITION BY RANGE (timestamp);

-- Search by event name, user, session and error group within a project and time range.
CREATE INDEX events_name_idx ON events (project_id, name, timestamp DESC);
CREATE INDEX events_user_idx ON events (project_id, user_id, timestamp DESC)
    WHERE user_id IS NOT NULL;
CREATE INDEX events_session_idx ON events (project_id, session_id, timestamp DESC)
    WHERE session_id IS NOT NULL;
CREATE INDEX events_fingerprint_idx ON events (project_id, fingerprint, timestamp DESC)
    WHERE fingerprint IS NOT NULL;

-- Per-minute rollups, maintained by the processor from the rows it actually inserted.
CREATE TABLE event_rollups_1m (
    project_id  uuid NOT NULL,
    bucket      timestamptz NOT NULL,
    type        text NOT NULL,
    name        text NOT NULL,
    level       text NOT NULL,
    events      bigint NOT NULL,
    PRIMARY KEY (project_id, bucket, type, name, level)
);

-- Who was active in each minute: exact unique users over any range of minutes.
CREATE TABLE user_rollups_1m (
    project_id  uuid NOT NULL,
    bucket      timestamptz NOT NULL,
    user_id     text NOT NULL,
    PRIMARY KEY (project_id, bucket, user_id)
);
