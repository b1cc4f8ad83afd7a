-- Duplicates sent to the manager (the `review` policy): a record saved over the records it
-- matched, waiting for the manager to keep both, merge or archive the new one.

CREATE TABLE duplicate_reviews (
    id INTEGER PRIMARY KEY,
    record_kind TEXT NOT NULL CHECK (record_kind IN ('account', 'contact', 'lead')),
    record_id INTEGER NOT NULL,
    -- JSON list of {record_kind, id, matched_on}.
    matched TEXT NOT NULL,
    requested_by INTEGER NOT NULL REFERENCES users(id),
    requested_at INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'kept', 'merged', 'archived')),
    decided_by INTEGER REFERENCES users(id),
    decided_at INTEGER,
    note TEXT
);
CREATE INDEX duplicate_reviews_status ON duplicate_reviews(status, requested_at);
CREATE INDEX duplicate_reviews_record ON duplicate_reviews(record_kind, record_id);
