-- The audit log: who did what, when and from where — sign-ins (and failed ones), exports,
-- backups and restores, imports and rollbacks, merges, handovers, users, permissions and
-- settings, API tokens. Append-only: the application can add to it, never change it.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    -- The user who acted; NULL for the server itself or an unknown login.
    actor_id INTEGER REFERENCES users(id),
    -- The login as given (a failed sign-in's may be no user's).
    actor_login TEXT,
    action TEXT NOT NULL,
    -- What it was done to ("import 12", "user 7", "pipeline 1"…).
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    address TEXT
);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX audit_log_actor ON audit_log(actor_id, at);
CREATE INDEX audit_log_action ON audit_log(action, at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
