-- Forecast snapshots: an immutable record of the forecast as it stood, taken weekly (one per
-- ISO week: the unique index lets several instances try at once and store one) and on
-- demand. Each row is one period for the company, a team or an owner. Triggers refuse any
-- change or removal.

CREATE TABLE forecast_snapshots (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('weekly','manual','backfill')),
    -- ISO week of a weekly snapshot (e.g. 2026-W48); NULL for one taken on demand or a
    -- backfill (the forecast replayed from the history as of a past instant, taken_at).
    week TEXT,
    taken_at INTEGER NOT NULL,
    taken_by INTEGER REFERENCES users(id),
    runs INTEGER NOT NULL,
    seed INTEGER NOT NULL
);
CREATE UNIQUE INDEX forecast_snapshots_week ON forecast_snapshots(kind, week);
CREATE INDEX forecast_snapshots_taken ON forecast_snapshots(taken_at);

CREATE TABLE forecast_snapshot_rows (
    snapshot_id INTEGER NOT NULL REFERENCES forecast_snapshots(id),
    pipeline_id INTEGER NOT NULL REFERENCES pipelines(id),
    level TEXT NOT NULL CHECK (level IN ('company','team','rep')),
    team_id INTEGER REFERENCES teams(id),
    owner_id INTEGER REFERENCES users(id),
    grain TEXT NOT NULL CHECK (grain IN ('month','quarter')),
    period_from DATE NOT NULL,
    period_to DATE NOT NULL,
    won INTEGER NOT NULL,
    configured INTEGER NOT NULL,
    empirical INTEGER NOT NULL,
    blended INTEGER NOT NULL,
    p10 INTEGER NOT NULL,
    p50 INTEGER NOT NULL,
    p90 INTEGER NOT NULL
);
CREATE INDEX forecast_snapshot_rows_snapshot ON forecast_snapshot_rows(snapshot_id);
CREATE INDEX forecast_snapshot_rows_period ON forecast_snapshot_rows(pipeline_id, grain, period_from);

CREATE TRIGGER forecast_snapshots_no_update BEFORE UPDATE ON forecast_snapshots
BEGIN SELECT RAISE(ABORT, 'forecast snapshots are immutable'); END;
CREATE TRIGGER forecast_snapshots_no_delete BEFORE DELETE ON forecast_snapshots
BEGIN SELECT RAISE(ABORT, 'forecast snapshots are immutable'); END;
CREATE TRIGGER forecast_snapshot_rows_no_update BEFORE UPDATE ON forecast_snapshot_rows
BEGIN SELECT RAISE(ABORT, 'forecast snapshots are immutable'); END;
CREATE TRIGGER forecast_snapshot_rows_no_delete BEFORE DELETE ON forecast_snapshot_rows
BEGIN SELECT RAISE(ABORT, 'forecast snapshots are immutable'); END;
