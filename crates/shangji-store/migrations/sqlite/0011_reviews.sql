-- Funnel review meetings: each team's reviews held (when, by whom, the window they covered,
-- notes), so the next review starts where the last one ended. And an optional external id
-- on opportunities (the id a deal had in the spreadsheet or CRM it came from), which the
-- history import matches rows on.

CREATE TABLE reviews (
    id INTEGER PRIMARY KEY,
    team_id INTEGER NOT NULL REFERENCES teams(id),
    since INTEGER NOT NULL,
    held_at INTEGER NOT NULL,
    held_by INTEGER NOT NULL REFERENCES users(id),
    notes TEXT
);
CREATE INDEX reviews_team ON reviews(team_id, held_at);

ALTER TABLE opportunities ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX opportunities_external_id ON opportunities(external_id) WHERE external_id IS NOT NULL;
