-- Errors grouped into issues: one row per (project, fingerprint), maintained by the processor
-- from the events it actually inserts (so a redelivered batch changes no counter).

-- Where an error happened ("module in function" of the crash-site in-app frame).
ALTER TABLE events ADD COLUMN culprit text;

CREATE TABLE issues (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id           uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    fingerprint          text NOT NULL,
    title                text NOT NULL,
    culprit              text,
    error_type           text,
    level                text NOT NULL,
    first_seen           timestamptz NOT NULL,
    last_seen            timestamptz NOT NULL,
    events               bigint NOT NULL DEFAULT 0,
    users                bigint NOT NULL DEFAULT 0,
    first_release        text,
    last_release         text,
    first_event_id       uuid,
    last_event_id        uuid,
    status               text NOT NULL DEFAULT 'unresolved'
                         CHECK (status IN ('unresolved', 'resolved', 'ignored')),
    status_changed_at    timestamptz,
    status_changed_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    resolved_at          timestamptz,
    -- "Ignore until": a moment, or a total event count, after which the issue reopens.
    ignore_until         timestamptz,
    ignore_until_events  bigint,
    regressed            boolean NOT NULL DEFAULT false,
    regressed_at         timestamptz,
    regression_event_id  uuid,
    created_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, fingerprint)
);
-- The issue list sorts by last seen (default), first seen, events or users within a project.
CREATE INDEX issues_last_seen_idx ON issues (project_id, last_seen DESC, id);
CREATE INDEX issues_first_seen_idx ON issues (project_id, first_seen DESC, id);
CREATE INDEX issues_events_idx ON issues (project_id, events DESC, id);
CREATE INDEX issues_users_idx ON issues (project_id, users DESC, id);

-- Who was affected by each issue: new rows are what increments issues.users.
CREATE TABLE issue_users (
    project_id   uuid NOT NULL,
    fingerprint  text NOT NULL,
    user_id      text NOT NULL,
    PRIMARY KEY (project_id, fingerprint, user_id),
    FOREIGN KEY (project_id, fingerprint)
        REFERENCES issues (project_id, fingerprint) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
