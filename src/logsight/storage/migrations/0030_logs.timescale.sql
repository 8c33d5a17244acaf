-- TimescaleDB: log lines in a hypertable of 1-day chunks compressed after 7 days (segmented by
-- project), like events; the rollups are a hypertable too. Retention is `logsight maintain`'s.
CREATE TABLE logs (
    project_id       uuid NOT NULL,
    log_id           uuid NOT NULL,
    timestamp        timestamptz NOT NULL,
    observed_at      timestamptz,
    received_at      timestamptz NOT NULL,
    severity_number  smallint,
    severity_text    text,
    level            text NOT NULL,
    service          text,
    environment      text,
    release          text,
    logger           text NOT NULL,
    body             text,
    body_json        jsonb,
    trace_id         text,
    span_id          text,
    resource         jsonb,
    scope            jsonb,
    attributes       jsonb NOT NULL DEFAULT '{}',
    -- The dedup key, as for events: ingest fixes log_id and timestamp before queueing.
    PRIMARY KEY (project_id, timestamp, log_id)
);

SELECT create_hypertable(
    'logs', 'timestamp',
    chunk_time_interval => INTERVAL '1 day',
    create_default_indexes => FALSE,
    if_not_exists => TRUE
);

-- Filters on the columns, newest first within a project; attributes by containment.
CREATE INDEX logs_service_idx ON logs (project_id, service, timestamp DESC);
CREATE INDEX logs_level_idx ON logs (project_id, level, timestamp DESC);
CREATE INDEX logs_trace_idx ON logs (project_id, trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX logs_attributes_idx ON logs USING gin (attributes jsonb_path_ops);
-- Free text over the body: trigrams (docs/benchmarks.md, "Log search", for the measurement
-- against full-text search), which also serve ILIKE on any substring.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX logs_body_trgm_idx ON logs USING gin (body gin_trgm_ops);

-- Lines per minute by service and level, fed by the processor from the rows it inserted.
CREATE TABLE log_rollups_1m (
    project_id  uuid NOT NULL,
    bucket      timestamptz NOT NULL,
    service     text NOT NULL,
    level       text NOT NULL,
    lines       bigint NOT NULL,
    PRIMARY KEY (project_id, bucket, service, level)
);

ALTER TABLE logs SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'project_id',
    timescaledb.compress_orderby = 'timestamp DESC, log_id'
);
SELECT add_compression_policy('logs', INTERVAL '7 days', if_not_exists => TRUE);

SELECT create_hypertable('log_rollups_1m', 'bucket', chunk_time_interval => INTERVAL '1 day',
    create_default_indexes => FALSE, if_not_exists => TRUE);
ALTER TABLE log_rollups_1m SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'project_id',
    timescaledb.compress_orderby = 'bucket DESC, service, level'
);
SELECT add_compression_policy('log_rollups_1m', INTERVAL '7 days', if_not_exists => TRUE);
