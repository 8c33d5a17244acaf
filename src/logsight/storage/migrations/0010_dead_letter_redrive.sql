-- Automatic re-drive of dead letters that ran out of deliveries (the processor raises only for
-- infrastructure faults, so those are good messages that met an outage): how many times the
-- scheduled function has sent each one back, and when it last did. After
-- LOGSIGHT_REDRIVE_ATTEMPTS it stops, and the letter waits for `logsight dead-letters replay`.
ALTER TABLE dead_letters
    ADD COLUMN redrive_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN redriven_at timestamptz;

-- The every-minute look for work reads only letters that may be re-driven: none, usually.
CREATE INDEX dead_letters_redrive_idx ON dead_letters (id)
    WHERE replayed_at IS NULL AND reason LIKE 'delivery limit exceeded%';
