-- A running import's heartbeat: the wall-clock time its runner last saved progress. An import
-- whose runner stopped (the process died) stops beating and is undone by the maintenance job.
ALTER TABLE imports ADD COLUMN beat_at BIGINT;
