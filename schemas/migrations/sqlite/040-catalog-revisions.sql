-- Revisions for readers that follow a table by "rows with a revision above the last one I saw"
-- (the API's in-memory catalogue of leads, sales and purchases). SQLite has one writer at a time,
-- so a revision drawn inside a write transaction is in commit order; triggers draw them, so no
-- writer's SQL needs to know about any of this.

CREATE TABLE IF NOT EXISTS catalog_revisions (
    stream                   TEXT PRIMARY KEY,
    value                    INTEGER NOT NULL
);
INSERT OR IGNORE INTO catalog_revisions (stream, value) VALUES ('leads', 1), ('sales', 1);

-- leads (rows already there share revision 1), and a tombstone per removed lead.
ALTER TABLE leads ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
CREATE INDEX IF NOT EXISTS leads_revision ON leads (revision, property_id);
CREATE TABLE IF NOT EXISTS lead_removals (
    property_id              INTEGER PRIMARY KEY,
    revision                 INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS lead_removals_revision ON lead_removals (revision, property_id);

CREATE TRIGGER IF NOT EXISTS leads_revision_insert AFTER INSERT ON leads BEGIN
    UPDATE catalog_revisions SET value = value + 1 WHERE stream = 'leads';
    UPDATE leads SET revision = (SELECT value FROM catalog_revisions WHERE stream = 'leads')
    WHERE property_id = new.property_id;
END;
-- Only when the writer left the revision as it was (the trigger's own update sets a new one).
CREATE TRIGGER IF NOT EXISTS leads_revision_update AFTER UPDATE ON leads
WHEN new.revision = old.revision BEGIN
    UPDATE catalog_revisions SET value = value + 1 WHERE stream = 'leads';
    UPDATE leads SET revision = (SELECT value FROM catalog_revisions WHERE stream = 'leads')
    WHERE property_id = new.property_id;
END;
CREATE TRIGGER IF NOT EXISTS leads_removal AFTER DELETE ON leads BEGIN
    UPDATE catalog_revisions SET value = value + 1 WHERE stream = 'leads';
    INSERT OR REPLACE INTO lead_removals (property_id, revision)
    VALUES (old.property_id, (SELECT value FROM catalog_revisions WHERE stream = 'leads'));
END;

-- Sales (buyer counts, sold out) and purchases (who owns what) share the `sales` stream.
ALTER TABLE lead_sales ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
CREATE INDEX IF NOT EXISTS lead_sales_revision ON lead_sales (revision, property_id);
ALTER TABLE purchases ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
CREATE INDEX IF NOT EXISTS purchases_revision ON purchases (revision, id);

CREATE TRIGGER IF NOT EXISTS lead_sales_revision_insert AFTER INSERT ON lead_sales BEGIN
    UPDATE catalog_revisions SET value = value + 1 WHERE stream = 'sales';
    UPDATE lead_sales SET revision = (SELECT value FROM catalog_revisions WHERE stream = 'sales')
    WHERE property_id = new.property_id;
END;
CREATE TRIGGER IF NOT EXISTS lead_sales_revision_update AFTER UPDATE ON lead_sales
WHEN new.revision = old.revision BEGIN
    UPDATE catalog_revisions SET value = value + 1 WHERE stream = 'sales';
    UPDATE lead_sales SET revision = (SELECT value FROM catalog_revisions WHERE stream = 'sales')
    WHERE property_id = new.property_id;
END;
CREATE TRIGGER IF NOT EXISTS purchases_revision_insert AFTER INSERT ON purchases BEGIN
    UPDATE catalog_revisions SET value = value + 1 WHERE stream = 'sales';
    UPDATE purchases SET revision = (SELECT value FROM catalog_revisions WHERE stream = 'sales')
    WHERE id = new.id;
END;
-- Purchases are a ledger: a row, once written, stays as it is (the catalogue never un-owns a lead).
CREATE TRIGGER IF NOT EXISTS purchases_ledger_update BEFORE UPDATE OF agent_id, property_id ON purchases BEGIN
    SELECT RAISE(ABORT, 'purchases are a ledger: rows are never changed or removed');
END;
CREATE TRIGGER IF NOT EXISTS purchases_ledger_delete BEFORE DELETE ON purchases BEGIN
    SELECT RAISE(ABORT, 'purchases are a ledger: rows are never changed or removed');
END;
