-- TimescaleDB: the functions the rollups are computed with, and the indexes event search and
-- the live view need. The rollup tables themselves come in 0014, as hypertables.
--
-- Revised text: this file used to drop the continuous aggregate event_rollups_1m created by
-- 0002 and create it again with six more, each with a refresh policy; a refresh job started
-- before the drop raced it. A fresh database now gets no continuous aggregate at all. Databases
-- that applied the earlier text keep its checksum (logsight.storage.migrate knows it) and 0014
-- replaces those aggregates.

-- Shared helpers, used by the processor's rollup writes and by queries.

-- The path of a page URL: scheme, host, query and fragment removed; '/' when empty.
CREATE OR REPLACE FUNCTION logsight_url_path(url text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT left(coalesce(nullif(
        substring(url FROM '^(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?://[^/?#]*)?([^?#]*)'), ''), '/'), 512)
$$;

-- HyperLogLog with 2^14 registers (standard error 0.81%), kept as plain rows
-- (register, rho) so that it is built with max() and any grain can be merged with
-- GROUP BY register. The low 14 bits of a 64-bit hash pick the register; rho is
-- the position of the first 1-bit in the remaining 50 bits (51 when they are all zero).
CREATE OR REPLACE FUNCTION logsight_hll_register(user_id text) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (hashtextextended(user_id, 0) & 16383)::smallint
$$;

CREATE OR REPLACE FUNCTION logsight_hll_rho(user_id text) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (51 - length(ltrim(((hashtextextended(user_id, 0) >> 14)::bit(50))::text, '0')))::smallint
$$;

-- The live view reads by acceptance time (client timestamps may be late).
CREATE INDEX events_received_idx ON events (project_id, received_at);

-- One event by id (links from alerts and issues carry only the id).
CREATE INDEX events_event_id_idx ON events (project_id, event_id);

-- Free-text search over name and message: trigram indexes make ILIKE '%term%' usable.
-- pg_trgm is a contrib extension; without it (or without the privilege to create it) search
-- still works, by scanning the project's time range.
DO $$
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
        RAISE WARNING 'pg_trgm is not available (%); event search will not use an index', SQLERRM;
    END;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        EXECUTE format('CREATE INDEX events_name_trgm_idx ON events USING gin (name %I.gin_trgm_ops)',
                       (SELECT n.nspname FROM pg_extension e
                        JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'));
        EXECUTE format('CREATE INDEX events_message_trgm_idx ON events USING gin (message %I.gin_trgm_ops)',
                       (SELECT n.nspname FROM pg_extension e
                        JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'));
    END IF;
END
$$;
