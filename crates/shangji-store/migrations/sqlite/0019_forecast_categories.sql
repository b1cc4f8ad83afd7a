-- Each version of an opportunity holds its forecast category, so that the forecast page, the
-- roll-up and snapshots read the deals valid now from the projection; the closings in force
-- hold what they were won for, for the horizon's sample of deals won. The projection and
-- its totals are emptied and every opportunity rebuilt once so that every row has them.
DELETE FROM analytics_stays;
DELETE FROM analytics_versions;
DELETE FROM analytics_stage_totals;
DELETE FROM analytics_days;
ALTER TABLE analytics_versions ADD COLUMN forecast_category TEXT;
DROP INDEX analytics_versions_at;
CREATE INDEX analytics_versions_at ON analytics_versions(pipeline_id, stage_id, valid_to, valid_from, archived, currency, amount_minor, probability, owner_id, close_date, stage_entered_at, opportunity_id, forecast_category);
DROP INDEX analytics_stays_in_force;
CREATE INDEX analytics_stays_in_force ON analytics_stays(pipeline_id, stage_id, entered_at, created_at, owner_id, closing, left_at, currency, amount_minor) WHERE closing AND left_at = 9223372036854775807;
INSERT INTO analytics_dirty (opportunity_id, n) SELECT id, 1 FROM opportunities WHERE true
ON CONFLICT (opportunity_id) DO UPDATE SET n = analytics_dirty.n + 1;
