-- Foundation schema (SQLite). Timestamps are UTC milliseconds since the epoch (INTEGER);
-- dates are ISO text (YYYY-MM-DD); money is integer minor units plus a currency code.

CREATE TABLE teams (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    parent_id INTEGER REFERENCES teams(id),
    archived INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX teams_name ON teams(name);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    email TEXT,
    mobile TEXT,
    role TEXT NOT NULL CHECK (role IN ('admin','director','manager','rep')),
    team_id INTEGER REFERENCES teams(id),
    active INTEGER NOT NULL DEFAULT 1,
    leaves TEXT NOT NULL DEFAULT '[]',
    language TEXT,
    password_hash TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX users_team ON users(team_id);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE pipelines (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    archived INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE stages (
    id INTEGER PRIMARY KEY,
    pipeline_id INTEGER NOT NULL REFERENCES pipelines(id),
    position INTEGER NOT NULL,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('open','won','lost')),
    probability INTEGER NOT NULL CHECK (probability BETWEEN 0 AND 100),
    forecast_category TEXT NOT NULL,
    rotting_days INTEGER,
    guidance TEXT,
    archived INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX stages_pipeline ON stages(pipeline_id, position);

CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    credit_code TEXT,
    industry TEXT,
    region TEXT,
    size TEXT,
    source TEXT,
    owner_id INTEGER REFERENCES users(id),
    tags TEXT NOT NULL DEFAULT '[]',
    address TEXT,
    notes TEXT,
    archived INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX accounts_owner ON accounts(owner_id, archived, updated_at);
CREATE INDEX accounts_updated ON accounts(updated_at);
CREATE INDEX accounts_credit_code ON accounts(credit_code);
CREATE INDEX accounts_name ON accounts(name);

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    account_id INTEGER REFERENCES accounts(id),
    name TEXT NOT NULL,
    mobile TEXT,
    phone TEXT,
    email TEXT,
    wechat TEXT,
    title TEXT,
    buying_role TEXT,
    owner_id INTEGER REFERENCES users(id),
    archived INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX contacts_account ON contacts(account_id);
CREATE INDEX contacts_owner ON contacts(owner_id, archived, updated_at);
CREATE INDEX contacts_mobile ON contacts(mobile);
CREATE INDEX contacts_email ON contacts(email);

CREATE TABLE leads (
    id INTEGER PRIMARY KEY,
    source TEXT,
    status TEXT NOT NULL,
    company_name TEXT,
    contact_name TEXT,
    mobile TEXT,
    email TEXT,
    wechat TEXT,
    title TEXT,
    region TEXT,
    industry TEXT,
    notes TEXT,
    owner_id INTEGER REFERENCES users(id),
    score INTEGER,
    archived INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX leads_owner ON leads(owner_id, archived, updated_at);
CREATE INDEX leads_status ON leads(status, created_at);
CREATE INDEX leads_mobile ON leads(mobile);

CREATE TABLE opportunities (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    primary_contact_id INTEGER REFERENCES contacts(id),
    pipeline_id INTEGER NOT NULL REFERENCES pipelines(id),
    stage_id INTEGER NOT NULL REFERENCES stages(id),
    amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency TEXT NOT NULL,
    close_date TEXT,
    probability INTEGER NOT NULL CHECK (probability BETWEEN 0 AND 100),
    probability_overridden INTEGER NOT NULL DEFAULT 0,
    forecast_category TEXT NOT NULL,
    grade TEXT,
    source TEXT,
    owner_id INTEGER NOT NULL REFERENCES users(id),
    next_step TEXT,
    next_step_date TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    loss_reason TEXT,
    loss_note TEXT,
    archived INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    closed_at INTEGER,
    stage_entered_at INTEGER NOT NULL
);
CREATE INDEX opportunities_owner ON opportunities(owner_id, archived, updated_at);
CREATE INDEX opportunities_stage ON opportunities(pipeline_id, stage_id, archived, updated_at);
CREATE INDEX opportunities_account ON opportunities(account_id);
CREATE INDEX opportunities_close ON opportunities(close_date);
CREATE INDEX opportunities_updated ON opportunities(updated_at);

CREATE TABLE opportunity_events (
    id INTEGER PRIMARY KEY,
    opportunity_id INTEGER NOT NULL REFERENCES opportunities(id),
    kind TEXT NOT NULL,
    actor_id INTEGER NOT NULL REFERENCES users(id),
    at INTEGER NOT NULL,
    from_stage_id INTEGER REFERENCES stages(id),
    to_stage_id INTEGER REFERENCES stages(id),
    old_value TEXT,
    new_value TEXT
);
CREATE INDEX opportunity_events_opp ON opportunity_events(opportunity_id, at);
CREATE INDEX opportunity_events_at ON opportunity_events(at);
-- The history is append-only.
CREATE TRIGGER opportunity_events_no_update BEFORE UPDATE ON opportunity_events
BEGIN SELECT RAISE(ABORT, 'opportunity_events is append-only'); END;
CREATE TRIGGER opportunity_events_no_delete BEFORE DELETE ON opportunity_events
BEGIN SELECT RAISE(ABORT, 'opportunity_events is append-only'); END;

CREATE TABLE activities (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    summary TEXT NOT NULL,
    outcome TEXT,
    next_step TEXT,
    account_id INTEGER REFERENCES accounts(id),
    contact_id INTEGER REFERENCES contacts(id),
    opportunity_id INTEGER REFERENCES opportunities(id),
    lead_id INTEGER REFERENCES leads(id),
    author_id INTEGER NOT NULL REFERENCES users(id),
    customer_facing INTEGER NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX activities_opp ON activities(opportunity_id, occurred_at);
CREATE INDEX activities_account ON activities(account_id, occurred_at);
CREATE INDEX activities_author ON activities(author_id, archived, updated_at);
CREATE INDEX activities_lead ON activities(lead_id);

CREATE TABLE tasks (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    due_date TEXT,
    assignee_id INTEGER NOT NULL REFERENCES users(id),
    done INTEGER NOT NULL DEFAULT 0,
    done_at INTEGER,
    record_kind TEXT,
    record_id INTEGER,
    archived INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX tasks_assignee ON tasks(assignee_id, done, due_date);
CREATE INDEX tasks_record ON tasks(record_kind, record_id);

CREATE TABLE idempotency_keys (
    user_id INTEGER NOT NULL REFERENCES users(id),
    key TEXT NOT NULL,
    resource TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
);
