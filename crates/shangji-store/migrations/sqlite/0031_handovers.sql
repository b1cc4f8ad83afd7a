-- Handover (交接): a leaving user's book moved to others as one job that can be resumed.
-- `settings`: the receivers and how the book is split; `counts`: what moved, per receiver
-- and kind; `handover_moves`: every record moved, with its receiver (the report and each
-- record's history read it).

CREATE TABLE handovers (
    id INTEGER PRIMARY KEY,
    from_user_id INTEGER NOT NULL REFERENCES users(id),
    actor_id INTEGER NOT NULL REFERENCES users(id),
    settings TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done')),
    counts TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE INDEX handovers_from ON handovers(from_user_id, created_at);

CREATE TABLE handover_moves (
    id INTEGER PRIMARY KEY,
    handover_id INTEGER NOT NULL REFERENCES handovers(id),
    record_kind TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    to_user_id INTEGER NOT NULL REFERENCES users(id)
);
CREATE INDEX handover_moves_handover ON handover_moves(handover_id, record_kind, to_user_id);
CREATE INDEX handover_moves_record ON handover_moves(record_kind, record_id);

ALTER TABLE ownership_events ADD COLUMN handover_id INTEGER;
