-- Time in stage reads the stays that left a stage for the last time in a period, stage by
-- stage: with the stage before the leaving time, the rows come grouped by stage.
DROP INDEX analytics_stays_left;
CREATE INDEX analytics_stays_left ON analytics_stays(pipeline_id, last_in_stage, stage_id, left_at, ms_in_stage, owner_id);
-- The waterfall finds each deal's version at the other end of the period: with what it
-- compares, without reading the table.
DROP INDEX analytics_versions_opp;
CREATE INDEX analytics_versions_opp ON analytics_versions(opportunity_id, valid_from, valid_to, stage_id, archived, currency, amount_minor, close_date);
-- Win/loss counts the closings of a period by reason, competitor, stage before and owner: an
-- index of the closings alone that holds all of these.
DROP INDEX analytics_stays_closing;
CREATE INDEX analytics_stays_closings ON analytics_stays(pipeline_id, entered_at, left_at, stage_id, currency, amount_minor, entry_owner_id, from_stage_id, loss_reason, competitor, owner_id, opportunity_id, closing) WHERE closing;
-- The indexes of reopened closings and of closings in force, holding the columns of their
-- conditions too so that they answer alone.
DROP INDEX analytics_stays_reopened;
CREATE INDEX analytics_stays_reopened ON analytics_stays(pipeline_id, entered_at, left_at, stage_id, currency, amount_minor, owner_id, closing) WHERE closing AND left_at < 9223372036854775807;
DROP INDEX analytics_stays_in_force;
CREATE INDEX analytics_stays_in_force ON analytics_stays(pipeline_id, stage_id, entered_at, created_at, owner_id, closing, left_at) WHERE closing AND left_at = 9223372036854775807;
