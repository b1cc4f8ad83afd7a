-- Custom fields: definitions (options and validation rules as JSON text), and their values.
-- Values live only in custom_values: one row per value, one per chosen option of a
-- multi-select, in the column that fits the type (text; number: integers, scaled decimals,
-- money minor units, Julian days, UTC milliseconds, 0/1, user ids; long text, kept out of the
-- text index). The indexes serve an equality or range filter on one field and the values of a
-- page of records.

CREATE TABLE custom_fields (
    id INTEGER PRIMARY KEY,
    record_kind TEXT NOT NULL CHECK (record_kind IN ('account','contact','lead','opportunity')),
    key TEXT NOT NULL,
    label_zh TEXT NOT NULL,
    label_en TEXT NOT NULL,
    field_type TEXT NOT NULL,
    required INTEGER NOT NULL DEFAULT 0,
    options TEXT NOT NULL DEFAULT '[]',
    validation TEXT NOT NULL DEFAULT '{}',
    decimal_places INTEGER,
    help_zh TEXT,
    help_en TEXT,
    position INTEGER NOT NULL DEFAULT 0,
    archived INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX custom_fields_key ON custom_fields(record_kind, key);

CREATE TABLE custom_values (
    record_kind TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    field_id INTEGER NOT NULL REFERENCES custom_fields(id),
    value_text TEXT,
    value_num INTEGER,
    value_long TEXT
);
CREATE INDEX custom_values_text ON custom_values(field_id, value_text, record_id);
CREATE INDEX custom_values_num ON custom_values(field_id, value_num, record_id);
CREATE INDEX custom_values_record ON custom_values(record_kind, record_id, field_id);

-- Definitions are part of the directory that every request reads.
CREATE TRIGGER custom_fields_directory_insert AFTER INSERT ON custom_fields
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER custom_fields_directory_update AFTER UPDATE ON custom_fields
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER custom_fields_directory_delete AFTER DELETE ON custom_fields
BEGIN UPDATE directory_version SET version = version + 1; END;
