-- Ingest quotas: each project may override the defaults from the settings (NULL = the
-- setting's value, 0 = unlimited). key_events_per_second applies to each of its keys.
ALTER TABLE projects
    ADD COLUMN events_per_minute     bigint CHECK (events_per_minute >= 0),
    ADD COLUMN events_per_month      bigint CHECK (events_per_month >= 0),
    ADD COLUMN key_events_per_second bigint CHECK (key_events_per_second >= 0);

-- One fixed-window counter per project (minute, month) and per key (second), shared by every
-- ingest environment. `used` counts what environments have leased (reserved) in the current
-- window, which is at least what they accepted, so the limit is never exceeded. The row starts
-- over when its window has passed, so the table holds one row per counter, not one per window.
-- Rows are updated in place all the time: room for HOT updates.
CREATE TABLE quota_counters (
    subject_id    uuid NOT NULL,
    window_unit   text NOT NULL CHECK (window_unit IN ('second', 'minute', 'month')),
    project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    window_start  timestamptz NOT NULL,
    used          bigint NOT NULL DEFAULT 0 CHECK (used >= 0),
    PRIMARY KEY (subject_id, window_unit)
) WITH (fillfactor = 50);
CREATE INDEX quota_counters_project_idx ON quota_counters (project_id);

-- Requests refused by a quota publish nothing: ingest adds their counts here itself, one row
-- per project, minute, category and quota (request_id 'rate_limited/<minute>').
ALTER TABLE ingest_outcomes DROP CONSTRAINT ingest_outcomes_outcome_check;
ALTER TABLE ingest_outcomes ADD CONSTRAINT ingest_outcomes_outcome_check
    CHECK (outcome IN ('client_discarded', 'skipped', 'invalid', 'rate_limited'));

-- Lease up to `slices[i]` events (at least `needs[i]`, never more than an eighth of what is left
-- unless that is less than needed) from each counter, in array order: callers sort the counters,
-- so concurrent leases lock rows in the same order and cannot deadlock. A counter that has less
-- left than needed grants nothing (no environment hoards the remainder). The window is read
-- from the database's clock once the row is locked, so every environment agrees on it and a
-- late writer never moves a counter back to an earlier window.
CREATE FUNCTION logsight_quota_lease(
    project uuid, subjects uuid[], units text[], limits bigint[], needs bigint[], slices bigint[]
) RETURNS TABLE (
    subject uuid, unit text, window_began timestamptz, seconds_left double precision,
    granted_now bigint, remaining bigint
) LANGUAGE plpgsql AS $$
DECLARE
    counter quota_counters%ROWTYPE;
    began timestamptz;
    base bigint;
    free bigint;
    grant_ bigint;
BEGIN
    FOR i IN 1 .. coalesce(array_length(subjects, 1), 0) LOOP
        SELECT * INTO counter FROM quota_counters c
        WHERE c.subject_id = subjects[i] AND c.window_unit = units[i] FOR UPDATE;
        IF NOT FOUND THEN
            INSERT INTO quota_counters AS c (subject_id, window_unit, project_id, window_start)
            SELECT subjects[i], units[i], project, '-infinity'
            WHERE EXISTS (SELECT 1 FROM projects p WHERE p.id = project)
            ON CONFLICT DO NOTHING;
            SELECT * INTO counter FROM quota_counters c
            WHERE c.subject_id = subjects[i] AND c.window_unit = units[i] FOR UPDATE;
            -- A project deleted while ingest still trusts its key: no counter, no row returned.
            CONTINUE WHEN NOT FOUND;
        END IF;
        began := date_trunc(units[i], clock_timestamp() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
        IF counter.window_start >= began THEN
            began := counter.window_start;
            base := counter.used;
        ELSE
            base := 0;
        END IF;
        free := greatest(limits[i] - base, 0);
        grant_ := CASE WHEN free < needs[i] THEN 0
                       ELSE least(free, greatest(needs[i], least(slices[i], free / 8))) END;
        UPDATE quota_counters c SET window_start = began, used = base + grant_
        WHERE c.subject_id = subjects[i] AND c.window_unit = units[i];
        subject := subjects[i];
        unit := units[i];
        window_began := began;
        seconds_left := extract(epoch FROM
            ((began AT TIME ZONE 'UTC' + ('1 ' || units[i])::interval) AT TIME ZONE 'UTC')
            - clock_timestamp());
        granted_now := grant_;
        remaining := free - grant_;
        RETURN NEXT;
    END LOOP;
END
$$;
