-- The people of an account who take part in an opportunity, each with the role they play in
-- this purchase (a contact may decide one deal and only use the product in another).

CREATE TABLE opportunity_contacts (
    opportunity_id BIGINT NOT NULL REFERENCES opportunities(id),
    contact_id BIGINT NOT NULL REFERENCES contacts(id),
    buying_role TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (opportunity_id, contact_id)
);
CREATE INDEX opportunity_contacts_contact ON opportunity_contacts(contact_id);
