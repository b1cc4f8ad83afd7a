-- Merges of accounts, contacts and leads: who merged which record into which, when, which
-- fields the survivor took, and the merged record as it was (it is archived, never deleted).

CREATE TABLE record_merges (
    id INTEGER PRIMARY KEY,
    record_kind TEXT NOT NULL,
    survivor_id INTEGER NOT NULL,
    merged_id INTEGER NOT NULL,
    actor_id INTEGER NOT NULL REFERENCES users(id),
    at INTEGER NOT NULL,
    taken TEXT NOT NULL,
    merged TEXT NOT NULL
);
CREATE INDEX record_merges_survivor ON record_merges(record_kind, survivor_id);
CREATE INDEX record_merges_merged ON record_merges(record_kind, merged_id);
CREATE INDEX record_merges_at ON record_merges(at);
