-- Sentry SDKs insist on a numeric project id in their DSN: each project gets a number.
ALTER TABLE projects ADD COLUMN number bigint GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX projects_number_idx ON projects (number);

-- Breadcrumbs (what led to an event), as Sentry SDKs and the browser snippet send them.
ALTER TABLE events ADD COLUMN breadcrumbs jsonb;

-- What clients told us they dropped (Sentry client reports) and what we accepted but do not
-- store (transactions, sessions, attachments, ...). One row per request and kind, so a
-- redelivered message counts nothing twice.
CREATE TABLE ingest_outcomes (
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    request_id   text NOT NULL,
    received_at  timestamptz NOT NULL,
    outcome      text NOT NULL CHECK (outcome IN ('client_discarded', 'skipped', 'invalid')),
    category     text NOT NULL,
    reason       text NOT NULL DEFAULT '',
    quantity     bigint NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (project_id, request_id, outcome, category, reason)
);
CREATE INDEX ingest_outcomes_recent_idx ON ingest_outcomes (project_id, received_at DESC);
