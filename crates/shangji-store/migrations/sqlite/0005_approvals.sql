-- Approvals: policies that make a stage move wait for approvers, the requests with their
-- decisions, and in-app notifications (requests to act on, decisions to learn of).

CREATE TABLE approval_policies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    pipeline_id INTEGER REFERENCES pipelines(id),
    stage_id INTEGER REFERENCES stages(id),
    conditions TEXT NOT NULL DEFAULT '[]',
    chain TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL
);

CREATE TABLE approval_requests (
    id INTEGER PRIMARY KEY,
    opportunity_id INTEGER NOT NULL REFERENCES opportunities(id),
    policy_id INTEGER REFERENCES approval_policies(id),
    requester_id INTEGER NOT NULL REFERENCES users(id),
    from_stage_id INTEGER NOT NULL REFERENCES stages(id),
    to_stage_id INTEGER NOT NULL REFERENCES stages(id),
    move_input TEXT NOT NULL,
    approver_ids TEXT NOT NULL,
    step INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('pending','approved','rejected','withdrawn')),
    -- The approver to act now while pending (for the inbox), else NULL.
    current_approver_id INTEGER REFERENCES users(id),
    decisions TEXT NOT NULL DEFAULT '[]',
    archived INTEGER NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    decided_at BIGINT
);
CREATE INDEX approval_requests_inbox ON approval_requests(current_approver_id, created_at);
CREATE INDEX approval_requests_requester ON approval_requests(requester_id, created_at);
-- At most one pending request per opportunity.
CREATE UNIQUE INDEX approval_requests_pending ON approval_requests(opportunity_id) WHERE status = 'pending';

CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    record_kind TEXT,
    record_id BIGINT,
    payload TEXT NOT NULL DEFAULT '{}',
    read_at BIGINT,
    archived INTEGER NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);
CREATE INDEX notifications_user ON notifications(user_id, read_at, created_at);

CREATE TRIGGER approval_policies_directory_insert AFTER INSERT ON approval_policies
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER approval_policies_directory_update AFTER UPDATE ON approval_policies
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER approval_policies_directory_delete AFTER DELETE ON approval_policies
BEGIN UPDATE directory_version SET version = version + 1; END;
