-- The analytics projection (shangji_core::projection): each opportunity's history flattened
-- into stay rows and version rows that reports add up with GROUP BY instead of replaying
-- every event. Derived from opportunity_events only: an insert into the history marks the
-- opportunity dirty (trigger below) and the next report (or the background refresher)
-- rebuilds its rows. Instants are milliseconds; 9223372036854775807 means "still".
CREATE TABLE analytics_stays (
    opportunity_id BIGINT NOT NULL REFERENCES opportunities(id),
    seq INTEGER NOT NULL,
    pipeline_id BIGINT NOT NULL,
    owner_id BIGINT NOT NULL,
    stage_id BIGINT NOT NULL,
    entered_at BIGINT NOT NULL,
    left_at BIGINT NOT NULL,
    prev_entered_at BIGINT,
    advanced BOOLEAN NOT NULL,
    won_later BOOLEAN NOT NULL,
    lost_later BOOLEAN NOT NULL,
    last_in_stage BOOLEAN NOT NULL,
    ms_in_stage BIGINT NOT NULL,
    closing BOOLEAN NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    final_stage_id BIGINT NOT NULL,
    final_at BIGINT NOT NULL,
    PRIMARY KEY (opportunity_id, seq)
);
-- Funnel entries by entry time; time in stage by leaving time; calibration and time to win
-- by the stage the deal is in now.
CREATE INDEX analytics_stays_entered ON analytics_stays(pipeline_id, entered_at, stage_id, prev_entered_at, advanced, won_later, lost_later, owner_id, closing, left_at, currency, amount_minor, created_at);
CREATE INDEX analytics_stays_left ON analytics_stays(pipeline_id, last_in_stage, left_at, stage_id, ms_in_stage, owner_id);
CREATE INDEX analytics_stays_final ON analytics_stays(pipeline_id, final_stage_id, stage_id, prev_entered_at, owner_id, entered_at, final_at);

CREATE TABLE analytics_versions (
    opportunity_id BIGINT NOT NULL REFERENCES opportunities(id),
    seq INTEGER NOT NULL,
    pipeline_id BIGINT NOT NULL,
    owner_id BIGINT NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_to BIGINT NOT NULL,
    stage_id BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    close_date DATE,
    probability INTEGER NOT NULL,
    archived BOOLEAN NOT NULL,
    stage_entered_at BIGINT NOT NULL,
    PRIMARY KEY (opportunity_id, seq)
);
-- What was in a stage at an instant: per stage, the versions still valid after it.
CREATE INDEX analytics_versions_at ON analytics_versions(pipeline_id, stage_id, valid_to, valid_from, archived, currency, amount_minor, probability, owner_id, close_date, stage_entered_at, opportunity_id);
CREATE INDEX analytics_versions_opp ON analytics_versions(opportunity_id, valid_from, valid_to);

-- Opportunities whose rows are out of date; `n` grows with each new event so that a refresh
-- only clears what it has seen.
CREATE TABLE analytics_dirty (
    opportunity_id BIGINT PRIMARY KEY,
    n BIGINT NOT NULL
);
CREATE FUNCTION analytics_mark_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_dirty (opportunity_id, n) VALUES (NEW.opportunity_id, 1)
    ON CONFLICT (opportunity_id) DO UPDATE SET n = analytics_dirty.n + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER analytics_dirty_on_event AFTER INSERT ON opportunity_events
FOR EACH ROW EXECUTE FUNCTION analytics_mark_dirty();
INSERT INTO analytics_dirty (opportunity_id, n) SELECT id, 1 FROM opportunities;
