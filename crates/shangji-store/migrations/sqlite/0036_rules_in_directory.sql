-- The enabled event rules are read on every write of a deal, lead or account: they join the
-- directory, so every change to a rule moves its version like a change to teams or pipelines.

CREATE TRIGGER automation_rules_directory_insert AFTER INSERT ON automation_rules
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER automation_rules_directory_update AFTER UPDATE ON automation_rules
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER automation_rules_directory_delete AFTER DELETE ON automation_rules
BEGIN UPDATE directory_version SET version = version + 1; END;
