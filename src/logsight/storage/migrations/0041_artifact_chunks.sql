-- Chunks sentry-cli uploads before asking for an artifact bundle to be assembled from them
-- (named by their SHA-1, per organization, as Sentry's chunk upload does). Deleted once
-- assembled; `logsight maintain` removes those never assembled after a day.

CREATE TABLE artifact_chunks (
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    checksum         text NOT NULL,
    content          bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, checksum)
);
CREATE INDEX artifact_chunks_age_idx ON artifact_chunks (created_at);
