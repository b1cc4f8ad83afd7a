-- Time in stage reads the stays that left a stage for the last time in a period, stage by
-- stage: with the stage before the leaving time, the rows come grouped by stage.
DROP INDEX analytics_stays_left;
CREATE INDEX analytics_stays_left ON analytics_stays(pipeline_id, last_in_stage, stage_id, left_at, ms_in_stage, owner_id);
