-- Win/loss, the leaderboard and the sources report read the projection too: each stay keeps
-- the owner when it was entered, the stage before it, and (on a lost deal's closing stay)
-- the loss reason and competitor. Every opportunity is rebuilt.
ALTER TABLE analytics_stays ADD COLUMN entry_owner_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE analytics_stays ADD COLUMN from_stage_id BIGINT;
ALTER TABLE analytics_stays ADD COLUMN loss_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE analytics_stays ADD COLUMN competitor TEXT NOT NULL DEFAULT '';
-- Closings and creations in a period.
CREATE INDEX analytics_stays_closing ON analytics_stays(pipeline_id, closing, entered_at);
CREATE INDEX analytics_stays_first ON analytics_stays(pipeline_id, seq, entered_at);
INSERT INTO analytics_dirty (opportunity_id, n) SELECT id, 1 FROM opportunities WHERE true
ON CONFLICT (opportunity_id) DO UPDATE SET n = analytics_dirty.n + 1;
-- The leaderboard's follow-ups: customer-facing activities in a period, by author.
CREATE INDEX activities_follow_ups ON activities(occurred_at, customer_facing, archived, author_id);
