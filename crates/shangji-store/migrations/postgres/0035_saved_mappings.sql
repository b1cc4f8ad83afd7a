-- Saved mappings: an import's headers (normalised), so that the next file with the same headers
-- of the same kind starts from the mapping of the last import that ran; and which import a
-- mapping was taken from.
ALTER TABLE imports ADD COLUMN headers_key TEXT;
ALTER TABLE imports ADD COLUMN mapping_from BIGINT;
CREATE INDEX imports_headers ON imports (kind, headers_key);
