-- Organizations own projects; projects own ingest keys. Minimal for now: the API adds users.
CREATE TABLE organizations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    slug        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projects (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            text NOT NULL,
    slug            text NOT NULL,
    retention_days  integer NOT NULL DEFAULT 30 CHECK (retention_days BETWEEN 1 AND 3650),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, slug)
);

-- Public, write-only keys. allowed_origins empty = any origin may send from a browser.
CREATE TABLE ingest_keys (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    public_key      text NOT NULL UNIQUE,
    label           text NOT NULL DEFAULT '',
    allowed_origins text[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz
);
CREATE INDEX ingest_keys_project_idx ON ingest_keys (project_id);

-- Messages that can never be processed, kept with their raw bytes for inspection.
-- digest makes recording idempotent: a redelivered batch records each dead letter once.
CREATE TABLE dead_letters (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    digest      bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    project_id  uuid,
    source      text NOT NULL,
    message_id  text,
    reason      text NOT NULL,
    raw         bytea NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX dead_letters_project_idx ON dead_letters (project_id, created_at DESC);
