-- A rep's load (their leads still being worked, and the latest) is counted from the index
-- alone: a lead routed by least load counts it on every arrival.
CREATE INDEX leads_load ON leads(owner_id, status, archived, created_at);
