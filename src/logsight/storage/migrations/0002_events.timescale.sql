-- TimescaleDB: events is a hypertable of 1-day chunks, compressed after 7 days (segmented by
-- project). Retention is applied by `logsight maintain`. The rollups are tables the processor
-- maintains, as on plain PostgreSQL; on TimescaleDB they are hypertables (migration 0014).
--
-- Revised text: this file used to create event_rollups_1m and user_rollups_1m as continuous
-- aggregates with refresh policies, which 0005 and 0014 drop again. A refresh job started in
-- between raced the drop, so a fresh database now never gets them. Databases that applied the
-- earlier text keep its checksum in schema_migrations (logsight.storage.migrate knows it) and
-- are brought to the same state by 0014.
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
