-- The people of an account who take part in an opportunity, each with the role they play in
-- this purchase (a contact may decide one deal and only use the product in another).

CREATE TABLE opportunity_contacts (
    opportunity_id INTEGER NOT NULL REFERENCES opportunities(id),
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    buying_role TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (opportunity_id, contact_id)
);
CREATE INDEX opportunity_contacts_contact ON opportunity_contacts(contact_id);
