-- The audit log: who did what, when and from where — sign-ins (and failed ones), exports,
-- backups and restores, imports and rollbacks, merges, handovers, users, permissions and
-- settings, API tokens. Append-only: the application can add to it, never change it.
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    -- The user who acted; NULL for the server itself or an unknown login.
    actor_id BIGINT REFERENCES users(id),
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
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
