-- Duplicate matching: the key a company name is matched on and its first two characters
-- (what candidates are looked up by), kept by the store on every write; existing rows are
-- filled in after the migrations run (the key is computed by the core).
ALTER TABLE accounts ADD COLUMN name_key TEXT;
ALTER TABLE accounts ADD COLUMN name_stem TEXT;
CREATE INDEX accounts_name_stem ON accounts(name_stem);
ALTER TABLE leads ADD COLUMN company_key TEXT;
ALTER TABLE leads ADD COLUMN company_stem TEXT;
CREATE INDEX leads_company_stem ON leads(company_stem);
CREATE INDEX accounts_name_key ON accounts(name_key);
CREATE INDEX leads_company_key ON leads(company_key);
