-- The enabled event rules are read on every write of a deal, lead or account: they join the
-- directory, so every change to a rule moves its version like a change to teams or pipelines.

CREATE TRIGGER automation_rules_directory AFTER INSERT OR UPDATE OR DELETE ON automation_rules
FOR EACH STATEMENT EXECUTE FUNCTION bump_directory_version();
