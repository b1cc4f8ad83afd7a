-- The sales process: a pipeline's transition policy; a stage's gate (required fields,
-- checklist, roles, approval) and standard actions; an opportunity's confirmed checklist,
-- actions done and competitor; the task a standard action created; the loss-reason taxonomy.
-- Configuration is JSON text, read with the pipeline into the directory.

ALTER TABLE pipelines ADD COLUMN policy TEXT NOT NULL DEFAULT '{}';
ALTER TABLE stages ADD COLUMN gate TEXT NOT NULL DEFAULT '{}';
ALTER TABLE stages ADD COLUMN actions TEXT NOT NULL DEFAULT '[]';

ALTER TABLE opportunities ADD COLUMN competitor TEXT;
ALTER TABLE opportunities ADD COLUMN checklist TEXT NOT NULL DEFAULT '[]';
ALTER TABLE opportunities ADD COLUMN actions_done TEXT NOT NULL DEFAULT '[]';

ALTER TABLE tasks ADD COLUMN action_key TEXT;

CREATE TABLE loss_reasons (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    position INTEGER NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0
);
INSERT INTO loss_reasons (id, key, name_zh, name_en, position) VALUES
    (1, 'price', '价格', 'Price', 0),
    (2, 'product_fit', '产品不匹配', 'Product fit', 1),
    (3, 'competitor', '竞争对手', 'Competitor', 2),
    (4, 'timing', '时机', 'Timing', 3),
    (5, 'no_decision', '无决策', 'No decision', 4),
    (6, 'budget', '预算', 'Budget', 5),
    (7, 'relationship', '关系', 'Relationship', 6),
    (8, 'other', '其他', 'Other', 7);

-- Reasons stored as their Chinese names become keys; anything else becomes 'other'.
UPDATE opportunities SET loss_reason = COALESCE(
    (SELECT key FROM loss_reasons WHERE name_zh = opportunities.loss_reason OR key = opportunities.loss_reason),
    'other')
WHERE loss_reason IS NOT NULL;

CREATE TRIGGER loss_reasons_directory_insert AFTER INSERT ON loss_reasons
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER loss_reasons_directory_update AFTER UPDATE ON loss_reasons
BEGIN UPDATE directory_version SET version = version + 1; END;
CREATE TRIGGER loss_reasons_directory_delete AFTER DELETE ON loss_reasons
BEGIN UPDATE directory_version SET version = version + 1; END;
