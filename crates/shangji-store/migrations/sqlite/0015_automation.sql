-- Automation: rules as data (the checked rule as JSON, with the columns lists read), the
-- firings (one per rule, record and episode: the unique key makes a rule fire once per
-- episode across restarts and instances), settings held as JSON documents (the working
-- calendar), and each user's notification preferences.

CREATE TABLE automation_rules (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    trigger_kind TEXT NOT NULL,
    template_key TEXT,
    rule TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE rule_firings (
    id INTEGER PRIMARY KEY,
    rule_id INTEGER NOT NULL REFERENCES automation_rules(id) ON DELETE CASCADE,
    record_type TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    episode TEXT NOT NULL,
    fired_at INTEGER NOT NULL,
    reasons TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT '[]',
    UNIQUE (rule_id, record_type, record_id, episode)
);
CREATE INDEX rule_firings_rule ON rule_firings(rule_id, fired_at);

-- (The settings table, app_settings, comes with 0014.)
CREATE TABLE notification_preferences (
    user_id INTEGER PRIMARY KEY REFERENCES users(id),
    muted_rules TEXT NOT NULL DEFAULT '[]',
    updated_at INTEGER NOT NULL
);
