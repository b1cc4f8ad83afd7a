-- Managers' forecast adjustments: a number for a team or a person and a period (a month
-- `YYYY-MM` or a quarter `YYYY-Qn`) replacing the system's, with who, when and why.
-- Append-only: a new adjustment supersedes the last; all are kept as the history.

CREATE TABLE forecast_adjustments (
    id INTEGER PRIMARY KEY,
    team_id INTEGER REFERENCES teams(id),
    user_id INTEGER REFERENCES users(id),
    period TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor_id INTEGER NOT NULL REFERENCES users(id),
    at INTEGER NOT NULL,
    CHECK ((team_id IS NULL) <> (user_id IS NULL))
);
CREATE INDEX forecast_adjustments_period ON forecast_adjustments(period, at, id);
