-- Source maps and the minified files they describe, per project. Looked up by debug id (the
-- `//# debugId=` comment sentry-cli injects) first, else by release + dist + URL.

CREATE TABLE artifacts (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id     uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('source_map', 'minified_source')),
    -- '' when the upload names none: matching by URL then needs the event to name none either.
    release        text NOT NULL DEFAULT '',
    dist           text NOT NULL DEFAULT '',
    -- As served, or '~/path' for any host (Sentry's convention).
    url            text NOT NULL,
    debug_id       uuid,
    -- A minified file's `//# sourceMappingURL=` (or the upload's header), as written.
    sourcemap_url  text,
    content        bytea NOT NULL,
    size           integer NOT NULL CHECK (size >= 0),
    sha256         text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, release, dist, url, kind)
);
CREATE INDEX artifacts_debug_id_idx ON artifacts (project_id, debug_id, kind)
    WHERE debug_id IS NOT NULL;
CREATE INDEX artifacts_list_idx ON artifacts (project_id, created_at, id);
