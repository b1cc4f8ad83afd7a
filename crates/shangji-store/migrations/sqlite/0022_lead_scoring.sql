-- Lead scoring: the grade beside the score, the last scoring's explanation (JSON of the core's
-- `Scored`), and the lead's score history: a row each time its score or grade changed.

ALTER TABLE leads ADD COLUMN grade TEXT;
ALTER TABLE leads ADD COLUMN score_detail TEXT;
CREATE INDEX leads_score ON leads(score);
CREATE INDEX leads_grade ON leads(grade);

CREATE TABLE lead_score_events (
    id INTEGER PRIMARY KEY,
    lead_id INTEGER NOT NULL REFERENCES leads(id),
    at INTEGER NOT NULL,
    score INTEGER NOT NULL,
    grade TEXT NOT NULL,
    previous_score INTEGER,
    previous_grade TEXT
);
CREATE INDEX lead_score_events_lead ON lead_score_events(lead_id, at);
