-- A client that retries a request without timestamps gets a new timestamp each time (ingest
-- stamps the time it received the request), so the primary key cannot see the repeat. The
-- processor looks such events up by (project, event id) within a window before inserting.
-- Only events whose timestamp ingest assigned are indexed (none sent, or clamped: the original
-- is kept in meta), so events that carry their own time cost nothing here. The same statement
-- serves both layouts: a partitioned table builds it on every partition, a hypertable on every
-- chunk (compressed TimescaleDB chunks keep only their own indexes; the window, a day by
-- default, stays within uncompressed ones).
CREATE INDEX events_stamped_id_idx ON events (project_id, event_id)
    WHERE timestamp = received_at OR meta ? 'original_timestamp';
