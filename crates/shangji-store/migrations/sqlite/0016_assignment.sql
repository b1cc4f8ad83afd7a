-- Assignment: the public pool (公海) as a state of the opportunity (since when it has waited
-- for an owner), the ordered assignment rules (the checked rule as JSON), and an index for
-- reading the history's `assigned` events (turns, daily capacity, claims, the SLA).

ALTER TABLE opportunities ADD COLUMN pool_since INTEGER;
CREATE INDEX opportunities_pool ON opportunities(pool_since) WHERE pool_since IS NOT NULL;

CREATE TABLE assignment_rules (
    id INTEGER PRIMARY KEY,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    rule TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE INDEX opportunity_events_kind ON opportunity_events(kind, at);
