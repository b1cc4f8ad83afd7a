-- Time in stage reads the stays that left a stage for the last time in a period, stage by
-- stage: with the stage before the leaving time, the rows come grouped by stage.
DROP INDEX analytics_stays_left;
CREATE INDEX analytics_stays_left ON analytics_stays(pipeline_id, last_in_stage, stage_id, left_at, ms_in_stage, owner_id);
-- The waterfall finds each deal's version at the other end of the period: with what it
-- compares, without reading the table.
DROP INDEX analytics_versions_opp;
CREATE INDEX analytics_versions_opp ON analytics_versions(opportunity_id, valid_from, valid_to, stage_id, archived, currency, amount_minor, close_date);
