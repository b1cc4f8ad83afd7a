-- The sign-in limiter's counters, shared by every instance on the database: failed sign-ins
-- per login typed (`account:<login>`), per client address (`address:<address>`) and per login
-- at an address (`pair:<address> <login>`, which also remembers the last successful sign-in
-- there). Rules in shangji-core's `sign_in`; rows untouched for a day are removed, a pair's
-- success is kept 90 days.
CREATE TABLE sign_in_throttle (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,
    -- When the failures now counted began (ms); counting starts again after the window.
    window_start INTEGER NOT NULL,
    -- No attempt is heard before this instant (ms; 0: none waits).
    blocked_until INTEGER NOT NULL DEFAULT 0,
    succeeded_at INTEGER,
    touched_at INTEGER NOT NULL
);
CREATE INDEX sign_in_throttle_touched ON sign_in_throttle(touched_at);
