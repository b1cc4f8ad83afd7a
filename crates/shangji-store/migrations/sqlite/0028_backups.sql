-- Backups the server or an admin took: when, the archive's file name in the backup folder,
-- how it came about (the daily job, an admin's "back up now", the command line), its size and
-- how long writing and verifying it took, and the verification — the archive restored into a
-- scratch database and every table's count and checksum compared — with its detail. Retention
-- removes old files and notes when.

CREATE TABLE backups (
    id INTEGER PRIMARY KEY,
    started_at INTEGER NOT NULL,
    file TEXT NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('scheduled','manual','command')),
    actor_id INTEGER REFERENCES users(id),
    size_bytes INTEGER,
    duration_ms INTEGER NOT NULL,
    verify_ms INTEGER,
    table_count INTEGER,
    row_count INTEGER,
    status TEXT NOT NULL CHECK (status IN ('verified','failed')),
    detail TEXT,
    removed_at INTEGER
);
CREATE INDEX backups_started ON backups(started_at);
