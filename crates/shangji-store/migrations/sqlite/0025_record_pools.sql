-- The public pool (公海) for leads and accounts: since when an unowned record has waited,
-- the regions whose pool records a team's people see, and the history of owner changes
-- (claimed, assigned, returned) that the pool's daily claim limit and SLA are read from.

ALTER TABLE leads ADD COLUMN pool_since INTEGER;
ALTER TABLE accounts ADD COLUMN pool_since INTEGER;
UPDATE leads SET pool_since = created_at WHERE owner_id IS NULL;
UPDATE accounts SET pool_since = created_at WHERE owner_id IS NULL;
CREATE INDEX leads_pool ON leads(pool_since) WHERE owner_id IS NULL;
CREATE INDEX accounts_pool ON accounts(pool_since) WHERE owner_id IS NULL;

ALTER TABLE teams ADD COLUMN regions TEXT NOT NULL DEFAULT '[]';

CREATE TABLE ownership_events (
    id INTEGER PRIMARY KEY,
    record_kind TEXT NOT NULL CHECK (record_kind IN ('lead', 'account')),
    record_id INTEGER NOT NULL,
    -- assigned: `owner_id` took it (`how`: rule, claim, manual); released: `owner_id`
    -- gave it back to the pool.
    kind TEXT NOT NULL CHECK (kind IN ('assigned', 'released')),
    owner_id INTEGER REFERENCES users(id),
    how TEXT,
    rule_id INTEGER,
    waited_since INTEGER,
    reason TEXT,
    actor_id INTEGER NOT NULL REFERENCES users(id),
    at INTEGER NOT NULL
);
CREATE INDEX ownership_events_record ON ownership_events(record_kind, record_id, at);
CREATE INDEX ownership_events_at ON ownership_events(kind, at);
