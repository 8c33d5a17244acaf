-- Privacy: per-project scrubbing rules, the installation's hashing key, and the jobs that
-- delete a user's data in the background.

-- A project without a row gets the defaults: scrubbing on, e-mails stored, IPs truncated.
CREATE TABLE project_privacy (
    project_id      uuid PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    scrub           boolean NOT NULL DEFAULT true,
    sensitive_keys  text[] NOT NULL DEFAULT '{}',
    safe_keys       text[] NOT NULL DEFAULT '{}',
    email_mode      text NOT NULL DEFAULT 'store' CHECK (email_mode IN ('store', 'hash', 'drop')),
    ip_mode         text NOT NULL DEFAULT 'truncate'
                    CHECK (ip_mode IN ('store', 'truncate', 'hash', 'drop')),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Secrets of the installation made on first use (the HMAC key for e-mails and addresses).
CREATE TABLE install_secrets (
    name        text PRIMARY KEY,
    secret      bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Deleting a user's data: requested through the API or the CLI, carried out by the scheduled
-- function (or at once by the CLI). The subject (user id or e-mail) is kept only until the
-- job is done; afterwards only its keyed hash remains, for the record.
CREATE TABLE privacy_jobs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind             text NOT NULL CHECK (kind IN ('delete_user')),
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    project_id       uuid REFERENCES projects (id) ON DELETE CASCADE,
    subject_kind     text NOT NULL CHECK (subject_kind IN ('user_id', 'email')),
    subject          text,
    subject_hash     text NOT NULL,
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'done', 'failed')),
    requested_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    result           jsonb NOT NULL DEFAULT '{}',
    error            text,
    attempts         integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);
CREATE INDEX privacy_jobs_pending_idx ON privacy_jobs (created_at) WHERE status IN ('queued', 'running');
CREATE INDEX privacy_jobs_organization_idx ON privacy_jobs (organization_id, created_at DESC);
