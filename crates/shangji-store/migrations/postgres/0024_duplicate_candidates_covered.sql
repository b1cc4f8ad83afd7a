-- The duplicate check looks up names sharing a two-character stem (hundreds of rows per stem
-- at a million leads): the stem indexes carry what the lookup reads, so that it never visits
-- the table.
DROP INDEX leads_company_stem;
CREATE INDEX leads_company_stem ON leads(company_stem, archived, status, id, owner_id, company_key, company_name, contact_name);
DROP INDEX accounts_name_stem;
CREATE INDEX accounts_name_stem ON accounts(name_stem, archived, id, owner_id, name_key, name);
