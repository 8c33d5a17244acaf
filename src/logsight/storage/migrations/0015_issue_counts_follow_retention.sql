-- Issue counters count the events still stored: retention and per-project deletes used to leave
-- `issues.events` and `issues.users` at every event ever seen (an issue showing 256 events of
-- which 211 were left). Retention removes whole UTC days, so the processor also counts each
-- issue's events per day, and keeps the last day each affected user was seen; `logsight
-- maintain` takes the days it removes off the counters (logsight.storage.issues).

-- Writes to events and issues wait for this transaction, so the counts below are exact.
LOCK TABLE events IN SHARE MODE;
LOCK TABLE issues IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE issue_days (
    project_id   uuid NOT NULL,
    day          date NOT NULL,
    fingerprint  text NOT NULL,
    events       bigint NOT NULL,
    -- Retention reads a project's days before a cutoff.
    PRIMARY KEY (project_id, day, fingerprint),
    FOREIGN KEY (project_id, fingerprint)
        REFERENCES issues (project_id, fingerprint) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);

INSERT INTO issue_days (project_id, day, fingerprint, events)
SELECT e.project_id, (e.timestamp AT TIME ZONE 'UTC')::date, e.fingerprint, count(*)
FROM events e
JOIN issues i ON i.project_id = e.project_id AND i.fingerprint = e.fingerprint
WHERE e.type = 'error' AND e.fingerprint IS NOT NULL
GROUP BY 1, 2, 3;

ALTER TABLE issue_users ADD COLUMN last_day date;

UPDATE issue_users u SET last_day = s.last_day
FROM (
    SELECT project_id, fingerprint, user_id, max((timestamp AT TIME ZONE 'UTC')::date) AS last_day
    FROM events
    WHERE type = 'error' AND fingerprint IS NOT NULL AND user_id IS NOT NULL
    GROUP BY 1, 2, 3
) s
WHERE u.project_id = s.project_id AND u.fingerprint = s.fingerprint AND u.user_id = s.user_id;

-- Users none of whose events are stored any more.
DELETE FROM issue_users WHERE last_day IS NULL;
-- The default is for a processor of the previous release still writing during an upgrade (it
-- names no last_day); this release's processor always writes the day.
ALTER TABLE issue_users
    ALTER COLUMN last_day SET NOT NULL,
    ALTER COLUMN last_day SET DEFAULT (now() AT TIME ZONE 'UTC')::date;
CREATE INDEX issue_users_last_day_idx ON issue_users (project_id, last_day);

-- The counters as they are from now on. An "ignore until N more events" keeps its N (bounded
-- like the API sets it).
UPDATE issues i SET
    events = c.events,
    users = c.users,
    ignore_until_events = least(
        i.ignore_until_events::numeric - (i.events - c.events), 9223372036854775807)::bigint
FROM (
    SELECT i.id,
           coalesce((SELECT sum(d.events) FROM issue_days d
                     WHERE d.project_id = i.project_id AND d.fingerprint = i.fingerprint), 0)
               AS events,
           (SELECT count(*) FROM issue_users u
            WHERE u.project_id = i.project_id AND u.fingerprint = i.fingerprint) AS users
    FROM issues i
) c
WHERE c.id = i.id AND (i.events, i.users) IS DISTINCT FROM (c.events, c.users);
