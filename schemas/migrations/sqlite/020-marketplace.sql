-- The marketplace API's tables and the indexes its searches need (the API reads `leads`; the jobs
-- keep it current).

-- Full-text search over title and description: an external-content FTS5 index of `leads` (rowid =
-- property_id), kept in step by triggers, so the jobs' writes need no change.
CREATE VIRTUAL TABLE IF NOT EXISTS leads_fts USING fts5(
    title, description, content = 'leads', content_rowid = 'property_id', tokenize = 'porter unicode61'
);
INSERT INTO leads_fts (leads_fts) VALUES ('rebuild');
CREATE TRIGGER IF NOT EXISTS leads_fts_insert AFTER INSERT ON leads BEGIN
    INSERT INTO leads_fts (rowid, title, description) VALUES (new.property_id, new.title, new.description);
END;
CREATE TRIGGER IF NOT EXISTS leads_fts_delete AFTER DELETE ON leads BEGIN
    INSERT INTO leads_fts (leads_fts, rowid, title, description)
    VALUES ('delete', old.property_id, old.title, old.description);
END;
-- The jobs rewrite every column of a touched lead; only a changed text needs re-indexing.
CREATE TRIGGER IF NOT EXISTS leads_fts_update AFTER UPDATE OF title, description ON leads
WHEN old.title IS NOT new.title OR old.description IS NOT new.description BEGIN
    INSERT INTO leads_fts (leads_fts, rowid, title, description)
    VALUES ('delete', old.property_id, old.title, old.description);
    INSERT INTO leads_fts (rowid, title, description) VALUES (new.property_id, new.title, new.description);
END;

-- Sorts and keyset pagination (sort key, then property_id).
CREATE INDEX IF NOT EXISTS leads_price ON leads (list_price, property_id);
-- Rent and sale prices are not comparable, so price sorts usually name a kind: ordered within it.
CREATE INDEX IF NOT EXISTS leads_kind_price ON leads (listing_kind, list_price, property_id);
CREATE INDEX IF NOT EXISTS leads_fetched ON leads (fetched_at, property_id);
CREATE INDEX IF NOT EXISTS leads_quality ON leads (quality_score, property_id);
CREATE INDEX IF NOT EXISTS leads_city ON leads (state_or_province, city);
-- Radius searches read id ranges of H3 cells and decide on the position: covering the columns
-- they test keeps them to the index (no table row per candidate).
CREATE INDEX IF NOT EXISTS leads_h3_cover ON leads (h3_cell, latitude, longitude, status, listing_kind, list_price);

-- Agents and their credit balance; the ledger explains every change.
CREATE TABLE IF NOT EXISTS agents (
    agent_id                 TEXT    PRIMARY KEY,
    credits                  INTEGER NOT NULL DEFAULT 0 CHECK (credits >= 0),
    created_at               TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS credit_ledger (
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id                 TEXT    NOT NULL REFERENCES agents (agent_id),
    delta                    INTEGER NOT NULL,
    balance_after            INTEGER NOT NULL,
    reason                   TEXT    NOT NULL, -- 'top_up' or 'purchase'
    property_id              INTEGER,
    actor                    TEXT    NOT NULL, -- who made the change (the agent, or the admin)
    at                       TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS credit_ledger_agent ON credit_ledger (agent_id, id);

-- One row per (agent, lead) bought.
CREATE TABLE IF NOT EXISTS purchases (
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id                 TEXT    NOT NULL REFERENCES agents (agent_id),
    property_id              INTEGER NOT NULL,
    price_credits            INTEGER NOT NULL,
    exclusive                INTEGER NOT NULL,
    purchased_at             TEXT    NOT NULL,
    UNIQUE (agent_id, property_id)
);
CREATE INDEX IF NOT EXISTS purchases_property ON purchases (property_id);

-- How many agents bought each lead; `sold_out` once an exclusive lead sold or a shared one reached
-- its buyer limit (searches leave those out).
CREATE TABLE IF NOT EXISTS lead_sales (
    property_id              INTEGER PRIMARY KEY,
    buyers                   INTEGER NOT NULL,
    exclusive                INTEGER NOT NULL,
    sold_out                 INTEGER NOT NULL
);

-- Checkout answers by Idempotency-Key, replayed for a repeated request.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    agent_id                 TEXT    NOT NULL,
    idempotency_key          TEXT    NOT NULL,
    request_hash             TEXT    NOT NULL,
    status_code              INTEGER NOT NULL,
    response                 TEXT    NOT NULL,
    created_at               TEXT    NOT NULL,
    PRIMARY KEY (agent_id, idempotency_key)
);

-- Marketplace events of the embedded default (with Kafka they go to `marketplace.events`).
CREATE TABLE IF NOT EXISTS marketplace_events (
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                     TEXT    NOT NULL,
    property_id              INTEGER NOT NULL,
    h3_cell                  INTEGER,
    postal_code              TEXT,
    agent                    TEXT    NOT NULL,
    at                       TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS marketplace_events_at ON marketplace_events (at);
