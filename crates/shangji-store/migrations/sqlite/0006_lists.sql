-- Saved list views (a user's named filters, sort and columns per record kind), the outcome
-- of working a lead (qualified into records, or disqualified with a reason), and the index
-- the search box needs for leads' email.

CREATE TABLE saved_views (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    record_kind TEXT NOT NULL CHECK (record_kind IN ('opportunities','accounts','contacts','leads','activities','tasks')),
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX saved_views_name ON saved_views(user_id, record_kind, name);

CREATE TABLE lead_outcomes (
    id INTEGER PRIMARY KEY,
    lead_id INTEGER NOT NULL REFERENCES leads(id),
    outcome TEXT NOT NULL CHECK (outcome IN ('qualified','disqualified')),
    reason TEXT,
    account_id INTEGER REFERENCES accounts(id),
    contact_id INTEGER REFERENCES contacts(id),
    opportunity_id INTEGER REFERENCES opportunities(id),
    actor_id INTEGER NOT NULL REFERENCES users(id),
    at INTEGER NOT NULL
);
CREATE INDEX lead_outcomes_lead ON lead_outcomes(lead_id, at);

CREATE INDEX leads_email ON leads(email);
