-- Outgoing notifications: the channels (generic webhook, WeCom, DingTalk, Feishu robots),
-- settings such as the webhook allow-list, each user's email preferences, and the
-- deliveries — the outbox the background sender works through, and the delivery log.

CREATE TABLE notification_channels (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('webhook','wecom','dingtalk','feishu')),
    url TEXT NOT NULL,
    secret TEXT,
    language TEXT NOT NULL DEFAULT 'zh-CN',
    enabled INTEGER NOT NULL DEFAULT 1,
    -- Which notifications it receives: all, approval (approval_*), rule (rule_*).
    events TEXT NOT NULL DEFAULT 'all' CHECK (events IN ('all','approval','rule')),
    -- Only notifications to users of this team or a team below it.
    team_id INTEGER REFERENCES teams(id),
    -- A deleted channel is archived: its deliveries stay in the log.
    archived INTEGER NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Instance-wide settings by key (`webhook_allow_list`: a JSON array of entries;
-- `digest_last_day`: the last day the daily digest was sent).
CREATE TABLE app_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE user_notification_prefs (
    user_id INTEGER PRIMARY KEY REFERENCES users(id),
    email_enabled INTEGER NOT NULL DEFAULT 0,
    daily_digest INTEGER NOT NULL DEFAULT 0,
    -- Where to send; the user's own email when NULL.
    email TEXT,
    updated_at BIGINT NOT NULL
);

-- One message to one channel or one email address. `held` emails wait for the user's daily
-- digest, which marks them `digested`.
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    channel_id INTEGER REFERENCES notification_channels(id),
    email TEXT,
    user_id INTEGER REFERENCES users(id),
    event TEXT NOT NULL,
    message TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending','retrying','delivered','failed','held','digested')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    -- A sender working on it until then; another sender leaves it alone.
    claimed_until BIGINT,
    last_error_code TEXT,
    last_error_detail TEXT,
    last_status INTEGER,
    last_attempt_at BIGINT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    CHECK ((channel_id IS NULL) <> (email IS NULL))
);
CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at);
CREATE INDEX deliveries_channel ON deliveries(channel_id, id);
CREATE INDEX deliveries_held ON deliveries(status, user_id);
