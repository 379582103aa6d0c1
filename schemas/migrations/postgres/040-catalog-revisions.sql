-- Revisions in commit order, so a reader can follow a table by "rows with a revision above the last
-- one I saw" (the API's in-memory catalogue of leads, sales and purchases).
--
-- A sequence alone is not enough: two transactions draw 10 and 11, the one with 11 commits first,
-- a reader sees 11 and would never look at 10 again. So every statement that writes a followed
-- table first updates that stream's row in `catalog_writers`; the row lock is held to commit, which
-- makes writers of one stream take turns, and a revision drawn later is always committed later.
-- Rows get their revision from the column default on insert and from a trigger on update (only when
-- the writer did not set one), so no writer's SQL needs to know about any of this.

CREATE TABLE IF NOT EXISTS catalog_writers (
    stream                   TEXT PRIMARY KEY,
    statements               BIGINT NOT NULL
);
INSERT INTO catalog_writers (stream, statements) VALUES ('leads', 0), ('sales', 0)
ON CONFLICT (stream) DO NOTHING;

CREATE OR REPLACE FUNCTION catalog_take_writer_turn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog_writers SET statements = statements + 1 WHERE stream = TG_ARGV[0];
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION catalog_next_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.revision := nextval(TG_ARGV[0]::regclass);
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION catalog_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'TRUNCATE % would hide its removals from the catalogue: DELETE the rows instead', TG_TABLE_NAME;
END $$;

-- leads, and a tombstone per removed lead (a relabel can empty a property).
CREATE SEQUENCE IF NOT EXISTS lead_revision;
ALTER TABLE leads ADD COLUMN IF NOT EXISTS revision BIGINT NOT NULL DEFAULT nextval('lead_revision');
CREATE INDEX IF NOT EXISTS leads_revision ON leads (revision, property_id);
CREATE TABLE IF NOT EXISTS lead_removals (
    property_id              BIGINT PRIMARY KEY,
    revision                 BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS lead_removals_revision ON lead_removals (revision, property_id);

CREATE OR REPLACE FUNCTION lead_record_removal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_removals (property_id, revision) VALUES (OLD.property_id, nextval('lead_revision'))
    ON CONFLICT (property_id) DO UPDATE SET revision = EXCLUDED.revision;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS leads_writer_turn ON leads;
CREATE TRIGGER leads_writer_turn BEFORE INSERT OR UPDATE OR DELETE ON leads
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_take_writer_turn('leads');
DROP TRIGGER IF EXISTS leads_revision ON leads;
CREATE TRIGGER leads_revision BEFORE UPDATE ON leads
    FOR EACH ROW WHEN (NEW.revision = OLD.revision) EXECUTE FUNCTION catalog_next_revision('lead_revision');
DROP TRIGGER IF EXISTS leads_removal ON leads;
CREATE TRIGGER leads_removal AFTER DELETE ON leads
    FOR EACH ROW EXECUTE FUNCTION lead_record_removal();
DROP TRIGGER IF EXISTS leads_no_truncate ON leads;
CREATE TRIGGER leads_no_truncate BEFORE TRUNCATE ON leads
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_refuse_truncate();

-- Sales (buyer counts, sold out) and purchases (who owns what) share the `sales` stream: checkout
-- writes both in one transaction.
CREATE SEQUENCE IF NOT EXISTS sale_revision;
ALTER TABLE lead_sales ADD COLUMN IF NOT EXISTS revision BIGINT NOT NULL DEFAULT nextval('sale_revision');
CREATE INDEX IF NOT EXISTS lead_sales_revision ON lead_sales (revision, property_id);
ALTER TABLE purchases ADD COLUMN IF NOT EXISTS revision BIGINT NOT NULL DEFAULT nextval('sale_revision');
CREATE INDEX IF NOT EXISTS purchases_revision ON purchases (revision, id);

DROP TRIGGER IF EXISTS lead_sales_writer_turn ON lead_sales;
CREATE TRIGGER lead_sales_writer_turn BEFORE INSERT OR UPDATE OR DELETE ON lead_sales
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_take_writer_turn('sales');
DROP TRIGGER IF EXISTS lead_sales_revision ON lead_sales;
CREATE TRIGGER lead_sales_revision BEFORE UPDATE ON lead_sales
    FOR EACH ROW WHEN (NEW.revision = OLD.revision) EXECUTE FUNCTION catalog_next_revision('sale_revision');
DROP TRIGGER IF EXISTS lead_sales_no_truncate ON lead_sales;
CREATE TRIGGER lead_sales_no_truncate BEFORE TRUNCATE ON lead_sales
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_refuse_truncate();

-- Purchases are a ledger: a row, once written, stays as it is (the catalogue never un-owns a lead).
CREATE OR REPLACE FUNCTION purchases_are_a_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'purchases are a ledger: rows are never changed or removed';
END $$;
DROP TRIGGER IF EXISTS purchases_writer_turn ON purchases;
CREATE TRIGGER purchases_writer_turn BEFORE INSERT ON purchases
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_take_writer_turn('sales');
DROP TRIGGER IF EXISTS purchases_ledger ON purchases;
CREATE TRIGGER purchases_ledger BEFORE UPDATE OR DELETE OR TRUNCATE ON purchases
    FOR EACH STATEMENT EXECUTE FUNCTION purchases_are_a_ledger();
