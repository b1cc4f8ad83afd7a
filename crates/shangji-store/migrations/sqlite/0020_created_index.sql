-- Deals created in a period (leaderboard, sources): their first stays, with what the reports
-- group and add up, without reading the table.
DROP INDEX analytics_stays_first;
CREATE INDEX analytics_stays_created ON analytics_stays(pipeline_id, entered_at, entry_owner_id, stage_id, currency, amount_minor, owner_id, opportunity_id, seq) WHERE seq = 0;
