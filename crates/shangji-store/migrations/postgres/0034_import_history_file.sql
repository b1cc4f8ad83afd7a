-- An opportunities import's stage-history file (optional), keyed by the deals' external ids.
ALTER TABLE imports ADD COLUMN history_name TEXT;
ALTER TABLE imports ADD COLUMN history_file BYTEA;
