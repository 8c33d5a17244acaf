-- Dead letters that were sent back through the queue (`logsight dead-letters replay`). A message
-- that fails again is recorded again, which clears this.
ALTER TABLE dead_letters ADD COLUMN replayed_at timestamptz;
