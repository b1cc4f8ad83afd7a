-- Which activity types count as a meaningful follow-up is a setting (`follow_up`), so the
-- follow-up counts read the type rather than the flag stored with each activity.
DROP INDEX activities_follow_ups;
CREATE INDEX activities_follow_ups ON activities(occurred_at, archived, kind, author_id);
