-- What a web form submission's checks read, kept as counts as the rows are written, so that
-- the checks cost the same at a million leads and at a flood of submissions as on day one.

-- Each rep's leads still being worked (new or working, not archived), and the newest creation
-- time of a lead that became theirs: what routing by least load compares.
CREATE TABLE lead_loads (
    owner_id BIGINT PRIMARY KEY,
    open_leads BIGINT NOT NULL,
    latest BIGINT NOT NULL
);
INSERT INTO lead_loads (owner_id, open_leads, latest)
SELECT owner_id, COUNT(*), MAX(created_at) FROM leads
WHERE owner_id IS NOT NULL AND NOT archived AND status IN ('new', 'working')
GROUP BY owner_id;

CREATE FUNCTION lead_loads_count() RETURNS trigger AS $$
DECLARE
    was_open BOOLEAN := TG_OP <> 'INSERT' AND OLD.owner_id IS NOT NULL AND NOT OLD.archived
        AND OLD.status IN ('new', 'working');
    is_open BOOLEAN := TG_OP <> 'DELETE' AND NEW.owner_id IS NOT NULL AND NOT NEW.archived
        AND NEW.status IN ('new', 'working');
BEGIN
    IF was_open AND is_open AND OLD.owner_id = NEW.owner_id THEN
        RETURN NULL;
    END IF;
    IF was_open THEN
        UPDATE lead_loads SET open_leads = open_leads - 1 WHERE owner_id = OLD.owner_id;
    END IF;
    IF is_open THEN
        INSERT INTO lead_loads (owner_id, open_leads, latest) VALUES (NEW.owner_id, 1, NEW.created_at)
        ON CONFLICT (owner_id) DO UPDATE SET open_leads = lead_loads.open_leads + 1,
            latest = GREATEST(lead_loads.latest, EXCLUDED.latest);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER lead_loads_count AFTER INSERT OR DELETE OR UPDATE OF owner_id, archived, status
ON leads FOR EACH ROW EXECUTE FUNCTION lead_loads_count();

-- Submissions per form and per sending address in each minute (`minute` = ms / 60000): what
-- the rate limits count. Minutes older than the longest window are pruned with the log.
CREATE TABLE web_form_rates (
    scope TEXT NOT NULL,
    minute BIGINT NOT NULL,
    n BIGINT NOT NULL,
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

CREATE FUNCTION web_form_rates_count() RETURNS trigger AS $$
BEGIN
    INSERT INTO web_form_rates (scope, minute, n) VALUES ('form:' || NEW.form_id, NEW.at / 60000, 1)
    ON CONFLICT (scope, minute) DO UPDATE SET n = web_form_rates.n + 1;
    INSERT INTO web_form_rates (scope, minute, n) VALUES ('address:' || NEW.address, NEW.at / 60000, 1)
    ON CONFLICT (scope, minute) DO UPDATE SET n = web_form_rates.n + 1;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER web_form_rates_count AFTER INSERT ON web_form_submissions
FOR EACH ROW EXECUTE FUNCTION web_form_rates_count();

-- Counted above instead.
DROP INDEX leads_load;
DROP INDEX web_form_submissions_address;
