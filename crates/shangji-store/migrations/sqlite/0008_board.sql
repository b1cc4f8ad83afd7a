-- The pipeline board and the forecast board: column totals and a column's cards are read
-- from these indexes alone (owner, stage or close date, amount, probability, currency), so a
-- board over a hundred thousand open opportunities never reads the table rows to add up.
CREATE INDEX opportunities_board ON opportunities(pipeline_id, status, archived, owner_id, stage_id, currency, amount_minor, probability);
CREATE INDEX opportunities_forecast ON opportunities(status, archived, owner_id, close_date, currency, amount_minor, probability, pipeline_id);
