-- An opportunity's status (the kind of its stage), so lists and boards filter without a join;
-- indexes for the list and board queries; and a directory version that every change to
-- teams, users, pipelines and stages moves, so app instances know when to reload them.

ALTER TABLE opportunities ADD COLUMN status TEXT NOT NULL DEFAULT 'open'
    CHECK (status IN ('open','won','lost'));
UPDATE opportunities SET status = (SELECT kind FROM stages WHERE stages.id = opportunities.stage_id);

-- Each index serves a list in its order (newest first) and, holding the owner and the status,
-- answers the visibility check and the list's total without reading the rows.
DROP INDEX opportunities_owner;
DROP INDEX opportunities_stage;
-- Someone's opportunities.
CREATE INDEX opportunities_owner ON opportunities(owner_id, archived, updated_at, status);
-- A board column or a stage filter.
CREATE INDEX opportunities_stage ON opportunities(stage_id, archived, updated_at, owner_id, status);
-- Open (won, lost) opportunities.
CREATE INDEX opportunities_status ON opportunities(status, archived, updated_at, owner_id);

CREATE TABLE directory_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO directory_version (id, version) VALUES (1, 1);

CREATE TRIGGER teams_directory_insert AFTER INSERT ON teams
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER teams_directory_update AFTER UPDATE ON teams
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER teams_directory_delete AFTER DELETE ON teams
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER users_directory_insert AFTER INSERT ON users
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER users_directory_update AFTER UPDATE ON users
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER users_directory_delete AFTER DELETE ON users
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER pipelines_directory_insert AFTER INSERT ON pipelines
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER pipelines_directory_update AFTER UPDATE ON pipelines
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER pipelines_directory_delete AFTER DELETE ON pipelines
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER stages_directory_insert AFTER INSERT ON stages
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER stages_directory_update AFTER UPDATE ON stages
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER stages_directory_delete AFTER DELETE ON stages
BEGIN UPDATE directory_version SET version = version + 1; END;
