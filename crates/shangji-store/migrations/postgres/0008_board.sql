-- The pipeline board and the forecast board: column totals and a column's card ids are read
-- from these indexes alone (owner, stage or close date, amount, probability, currency, and the
-- grade and close-date filters), so a board over a hundred thousand open opportunities never
-- reads table rows to add up; only the shown cards' rows are read.
CREATE INDEX opportunities_board ON opportunities(pipeline_id, status, archived, owner_id, stage_id, currency, amount_minor, probability, grade, close_date);
CREATE INDEX opportunities_forecast ON opportunities(status, archived, owner_id, close_date, currency, amount_minor, probability, pipeline_id, grade);
