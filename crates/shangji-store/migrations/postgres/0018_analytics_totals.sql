-- Sums kept beside the projection's stays (shangji_core::projection, "Maintained totals"), so
-- that calibration, time to win and the reports over whole days read a few rows per owner
-- and day instead of every stay; and indexes that let the other reports read only an index.
-- The projection's refresh keeps the sums in step with the stays; the stays are emptied and
-- every opportunity rebuilt once so that both start together.
CREATE TABLE analytics_stage_totals (
    pipeline_id BIGINT NOT NULL,
    owner_id BIGINT NOT NULL,
    stage_id BIGINT NOT NULL,
    final_stage_id BIGINT NOT NULL,
    first_entry BOOLEAN NOT NULL,
    left_stage BOOLEAN NOT NULL,
    days_to_final BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (pipeline_id, final_stage_id, stage_id, first_entry, left_stage, days_to_final, owner_id)
);
-- Per China day (days since 1970-01-01, UTC+8) the stays began on.
CREATE TABLE analytics_days (
    pipeline_id BIGINT NOT NULL,
    day BIGINT NOT NULL,
    owner_id BIGINT NOT NULL,
    stage_id BIGINT NOT NULL,
    currency TEXT NOT NULL,
    entered BIGINT NOT NULL,
    advanced BIGINT NOT NULL,
    won BIGINT NOT NULL,
    lost BIGINT NOT NULL,
    closed BIGINT NOT NULL,
    closed_amount BIGINT NOT NULL,
    PRIMARY KEY (pipeline_id, day, owner_id, stage_id, currency)
);
-- Emptied before the indexes are made, so that they are made on empty tables.
DELETE FROM analytics_stays;
DELETE FROM analytics_versions;
-- The few stays the per-day totals leave out: re-entries into a stage, and closings reopened
-- since; and the closings in force, for the sales cycle of the deals won. Each holds the
-- columns of its condition too, so that it answers alone.
CREATE INDEX analytics_stays_reentered ON analytics_stays(pipeline_id, entered_at, prev_entered_at, stage_id, advanced, won_later, lost_later, owner_id) WHERE prev_entered_at IS NOT NULL;
CREATE INDEX analytics_stays_reopened ON analytics_stays(pipeline_id, entered_at, left_at, stage_id, currency, amount_minor, owner_id, closing) WHERE closing AND left_at < 9223372036854775807;
CREATE INDEX analytics_stays_in_force ON analytics_stays(pipeline_id, stage_id, entered_at, created_at, owner_id, closing, left_at) WHERE closing AND left_at = 9223372036854775807;
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
-- Deals created in a period (leaderboard, sources): their first stays, with what the reports
-- group and add up.
DROP INDEX analytics_stays_first;
CREATE INDEX analytics_stays_created ON analytics_stays(pipeline_id, entered_at, entry_owner_id, stage_id, currency, amount_minor, owner_id, opportunity_id, seq) WHERE seq = 0;
INSERT INTO analytics_dirty (opportunity_id, n) SELECT id, 1 FROM opportunities WHERE true
ON CONFLICT (opportunity_id) DO UPDATE SET n = analytics_dirty.n + 1;
