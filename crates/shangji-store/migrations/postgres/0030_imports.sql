-- Imports of accounts (with their contacts), contacts and leads from spreadsheets: the file as
-- uploaded, how its columns map, the run's progress and outcome, and each record it created or
-- changed (with the record as it was), so that the batch can be rolled back.
CREATE TABLE imports (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    file_name TEXT NOT NULL,
    file BYTEA NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    -- uploaded, running, done, failed, rolled_back
    status TEXT NOT NULL,
    mapping TEXT NOT NULL,
    options TEXT NOT NULL,
    total_rows BIGINT NOT NULL,
    done_rows BIGINT NOT NULL,
    summary TEXT NOT NULL,
    error TEXT,
    finished_at BIGINT,
    rolled_back_at BIGINT
);
CREATE INDEX imports_created ON imports(created_at);

CREATE TABLE import_rows (
    import_id BIGINT NOT NULL REFERENCES imports(id),
    row_no BIGINT NOT NULL,
    record_kind TEXT NOT NULL,
    record_id BIGINT NOT NULL,
    -- created, updated
    action TEXT NOT NULL,
    -- The record before the import changed it (JSON), for an update.
    before TEXT,
    version_after BIGINT NOT NULL,
    PRIMARY KEY (import_id, record_kind, record_id)
);
CREATE INDEX import_rows_record ON import_rows(record_kind, record_id);
