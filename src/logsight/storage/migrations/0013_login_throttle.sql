-- Login throttling keeps one row per subject instead of one per failure: the failures of an
-- account from a client network (consecutive count, progressive delay), and the leaky-bucket
-- levels of a network (password spraying) and of an account (under attack). The table stays
-- the size of the recent subjects, however many guesses come.
DROP TABLE login_failures;

CREATE TABLE login_throttle (
    -- pair:<email>|<network>, network:<network> or account:<email>
    subject          text PRIMARY KEY,
    -- pair: consecutive failures; network and account: the level at updated_at, draining at
    -- limit / window per second.
    failures         double precision NOT NULL,
    updated_at       timestamptz NOT NULL,
    -- A refusal is audited once per failure, not once per refused request.
    refusal_audited  boolean NOT NULL DEFAULT false
);
CREATE INDEX login_throttle_updated_idx ON login_throttle (updated_at);
