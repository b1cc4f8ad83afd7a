-- Web-to-lead forms: the form (the checked definition as JSON, its public address and the
-- secret of its inbound endpoint) and the log of every submission, refused ones included.
-- The log is also what the per-address and per-form rate limits count, so that several app
-- instances on one database limit together.

CREATE TABLE web_forms (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    form TEXT NOT NULL,
    secret TEXT NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE web_form_submissions (
    id INTEGER PRIMARY KEY,
    form_id INTEGER NOT NULL REFERENCES web_forms(id),
    at INTEGER NOT NULL,
    via TEXT NOT NULL,
    outcome TEXT NOT NULL,
    refusal TEXT,
    address TEXT NOT NULL,
    lead_id INTEGER REFERENCES leads(id),
    utm TEXT NOT NULL,
    submitted TEXT NOT NULL
);
CREATE INDEX web_form_submissions_form ON web_form_submissions(form_id, at);
CREATE INDEX web_form_submissions_address ON web_form_submissions(address, at);
CREATE INDEX web_form_submissions_lead ON web_form_submissions(lead_id) WHERE lead_id IS NOT NULL;
