-- Sums kept beside the projection's stays (shangji_core::projection, "Maintained totals"), so
-- that calibration, time to win and the reports over whole days read a few rows per owner
-- and day instead of every stay. The projection's refresh keeps them in step with the stays;
-- the stays are emptied and every opportunity rebuilt once so that both start together.
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
-- The few stays the per-day totals leave out: re-entries into a stage, and closings
-- reopened since; and the closings in force, for the sales cycle of the deals won.
CREATE INDEX analytics_stays_reentered ON analytics_stays(pipeline_id, entered_at, prev_entered_at, stage_id, advanced, won_later, lost_later, owner_id) WHERE prev_entered_at IS NOT NULL;
CREATE INDEX analytics_stays_reopened ON analytics_stays(pipeline_id, entered_at, left_at, stage_id, currency, amount_minor, owner_id) WHERE closing AND left_at < 9223372036854775807;
CREATE INDEX analytics_stays_in_force ON analytics_stays(pipeline_id, stage_id, entered_at, created_at, owner_id) WHERE closing AND left_at = 9223372036854775807;
DELETE FROM analytics_stays;
DELETE FROM analytics_versions;
INSERT INTO analytics_dirty (opportunity_id, n) SELECT id, 1 FROM opportunities WHERE true
ON CONFLICT (opportunity_id) DO UPDATE SET n = analytics_dirty.n + 1;
