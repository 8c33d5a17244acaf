-- Alerting: channels (where notifications go), rules (what is watched), the history of each
-- rule's state changes and the delivery of every notification to every channel.

CREATE TABLE alert_channels (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id        uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name              text NOT NULL,
    type              text NOT NULL CHECK (type IN
                      ('slack', 'discord', 'teams', 'telegram', 'pagerduty', 'webhook', 'email')),
    -- What may be shown (email recipients, a Telegram chat id).
    config            jsonb NOT NULL DEFAULT '{}',
    -- URLs, routing keys, bot tokens, signing secrets: Fernet-encrypted JSON, never returned.
    secret            bytea,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_channels_project_idx ON alert_channels (project_id, created_at, id);

CREATE TABLE alert_rules (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id         uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name               text NOT NULL,
    enabled            boolean NOT NULL DEFAULT true,
    kind               text NOT NULL,
    -- Kind-specific: threshold, comparison, filters, issue, change baseline...
    condition          jsonb NOT NULL DEFAULT '{}',
    window_seconds     integer NOT NULL CHECK (window_seconds BETWEEN 60 AND 604800),
    interval_seconds   integer NOT NULL CHECK (interval_seconds BETWEEN 60 AND 86400),
    cooldown_seconds   integer NOT NULL CHECK (cooldown_seconds BETWEEN 60 AND 604800),
    snoozed_until      timestamptz,
    digest_seconds     integer CHECK (digest_seconds BETWEEN 60 AND 86400),
    -- Evaluation state: each change is claimed by one UPDATE ... WHERE state = <old>, so two
    -- overlapping evaluations cannot both notify.
    state              text NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'firing')),
    state_changed_at   timestamptz,
    last_value         double precision,
    last_evaluated_at  timestamptz,
    last_notified_at   timestamptz,
    last_digest_at     timestamptz,
    -- New-issue and regression rules remember the moment up to which they have looked.
    watermark          timestamptz,
    created_by         uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_rules_project_idx ON alert_rules (project_id, created_at, id);
CREATE INDEX alert_rules_due_idx ON alert_rules (last_evaluated_at) WHERE enabled;

CREATE TABLE alert_rule_channels (
    rule_id     uuid NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    channel_id  uuid NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
    PRIMARY KEY (rule_id, channel_id)
);
CREATE INDEX alert_rule_channels_channel_idx ON alert_rule_channels (channel_id);

-- One message sent (or to be sent) to a rule's channels: a state change, a repeat, a digest of
-- several, or a test.
CREATE TABLE alert_notifications (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    rule_id     uuid REFERENCES alert_rules (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('firing', 'resolved', 'repeat', 'digest', 'test')),
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_notifications_rule_idx ON alert_notifications (rule_id, created_at DESC);

-- A rule's history: it started firing, fired again after the cooldown, resolved.
CREATE TABLE alert_history (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id       uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    rule_id          uuid NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('firing', 'resolved', 'repeat')),
    at               timestamptz NOT NULL,
    value            double precision,
    summary          text NOT NULL,
    details          jsonb NOT NULL DEFAULT '{}',
    -- NULL while a digest rule's entry waits for its digest.
    notification_id  uuid REFERENCES alert_notifications (id) ON DELETE SET NULL
);
CREATE INDEX alert_history_rule_idx ON alert_history (rule_id, id DESC);
CREATE INDEX alert_history_digest_idx ON alert_history (rule_id) WHERE notification_id IS NULL;

-- One row per notification and channel: the unique key makes creating it idempotent, and the
-- status change to 'sending' is the claim that one worker delivers it.
CREATE TABLE alert_deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notification_id  uuid NOT NULL REFERENCES alert_notifications (id) ON DELETE CASCADE,
    channel_id       uuid REFERENCES alert_channels (id) ON DELETE SET NULL,
    channel_type     text NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    response_code    integer,
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    claimed_at       timestamptz,
    finished_at      timestamptz,
    UNIQUE (notification_id, channel_id)
);
CREATE INDEX alert_deliveries_pending_idx ON alert_deliveries (created_at)
    WHERE status IN ('pending', 'sending');
