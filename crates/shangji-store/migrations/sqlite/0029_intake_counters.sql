-- What a web form submission's checks read, kept as counts as the rows are written, so that
-- the checks cost the same at a million leads and at a flood of submissions as on day one.

-- Each rep's leads still being worked (new or working, not archived), and the newest creation
-- time of a lead that became theirs: what routing by least load compares.
CREATE TABLE lead_loads (
    owner_id INTEGER PRIMARY KEY,
    open_leads INTEGER NOT NULL,
    latest INTEGER NOT NULL
);
INSERT INTO lead_loads (owner_id, open_leads, latest)
SELECT owner_id, COUNT(*), MAX(created_at) FROM leads
WHERE owner_id IS NOT NULL AND archived = 0 AND status IN ('new', 'working')
GROUP BY owner_id;

CREATE TRIGGER lead_loads_insert AFTER INSERT ON leads
WHEN NEW.owner_id IS NOT NULL AND NEW.archived = 0 AND NEW.status IN ('new', 'working')
BEGIN
    INSERT INTO lead_loads (owner_id, open_leads, latest) VALUES (NEW.owner_id, 1, NEW.created_at)
    ON CONFLICT (owner_id) DO UPDATE SET open_leads = open_leads + 1, latest = MAX(latest, excluded.latest);
END;
CREATE TRIGGER lead_loads_leave AFTER UPDATE OF owner_id, archived, status ON leads
WHEN OLD.owner_id IS NOT NULL AND OLD.archived = 0 AND OLD.status IN ('new', 'working')
    AND NOT (NEW.owner_id IS OLD.owner_id AND NEW.archived = 0 AND NEW.status IN ('new', 'working'))
BEGIN
    UPDATE lead_loads SET open_leads = open_leads - 1 WHERE owner_id = OLD.owner_id;
END;
CREATE TRIGGER lead_loads_join AFTER UPDATE OF owner_id, archived, status ON leads
WHEN NEW.owner_id IS NOT NULL AND NEW.archived = 0 AND NEW.status IN ('new', 'working')
    AND NOT (OLD.owner_id IS NEW.owner_id AND OLD.archived = 0 AND OLD.status IN ('new', 'working'))
BEGIN
    INSERT INTO lead_loads (owner_id, open_leads, latest) VALUES (NEW.owner_id, 1, NEW.created_at)
    ON CONFLICT (owner_id) DO UPDATE SET open_leads = open_leads + 1, latest = MAX(latest, excluded.latest);
END;
CREATE TRIGGER lead_loads_delete AFTER DELETE ON leads
WHEN OLD.owner_id IS NOT NULL AND OLD.archived = 0 AND OLD.status IN ('new', 'working')
BEGIN
    UPDATE lead_loads SET open_leads = open_leads - 1 WHERE owner_id = OLD.owner_id;
END;

-- Submissions per form and per sending address in each minute (`minute` = ms / 60000): what
-- the rate limits count. Minutes older than the longest window are pruned with the log.
CREATE TABLE web_form_rates (
    scope TEXT NOT NULL,
    minute INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (scope, minute)
);
INSERT INTO web_form_rates (scope, minute, n)
SELECT scope, minute, COUNT(*) FROM (
    SELECT 'form:' || form_id AS scope, at / 60000 AS minute FROM web_form_submissions
    WHERE at >= (SELECT MAX(at) FROM web_form_submissions) - 7200000
    UNION ALL
    SELECT 'address:' || address, at / 60000 FROM web_form_submissions
    WHERE at >= (SELECT MAX(at) FROM web_form_submissions) - 7200000
) AS s GROUP BY scope, minute;

CREATE TRIGGER web_form_rates_count AFTER INSERT ON web_form_submissions
BEGIN
    INSERT INTO web_form_rates (scope, minute, n) VALUES ('form:' || NEW.form_id, NEW.at / 60000, 1)
    ON CONFLICT (scope, minute) DO UPDATE SET n = n + 1;
    INSERT INTO web_form_rates (scope, minute, n) VALUES ('address:' || NEW.address, NEW.at / 60000, 1)
    ON CONFLICT (scope, minute) DO UPDATE SET n = n + 1;
END;

-- Counted above instead.
DROP INDEX leads_load;
DROP INDEX web_form_submissions_address;
