-- The marketplace API's tables and the indexes its searches need (the API reads `leads`; the jobs
-- keep it current).

-- Full-text search over title and description: a generated tsvector (the jobs' writes need no
-- change) with a GIN index.
ALTER TABLE leads ADD COLUMN IF NOT EXISTS search_tsv tsvector GENERATED ALWAYS AS (
    to_tsvector('english', coalesce(title, '') || ' ' || coalesce(description, ''))
) STORED;
CREATE INDEX IF NOT EXISTS leads_search ON leads USING GIN (search_tsv);

-- Sorts and keyset pagination (sort key, then property_id).
CREATE INDEX IF NOT EXISTS leads_price ON leads (list_price, property_id);
-- Rent and sale prices are not comparable, so price sorts usually name a kind: ordered within it.
CREATE INDEX IF NOT EXISTS leads_kind_price ON leads (listing_kind, list_price, property_id);
CREATE INDEX IF NOT EXISTS leads_fetched ON leads (fetched_at, property_id);
CREATE INDEX IF NOT EXISTS leads_quality ON leads (quality_score, property_id);
CREATE INDEX IF NOT EXISTS leads_city ON leads (state_or_province, city);
-- Radius searches read id ranges of H3 cells and decide on the position: covering the columns
-- they test keeps them to the index (no table row per candidate).
CREATE INDEX IF NOT EXISTS leads_h3_cover ON leads (h3_cell) INCLUDE (property_id, latitude, longitude, status, listing_kind, list_price);

-- Agents and their credit balance; the ledger explains every change.
CREATE TABLE IF NOT EXISTS agents (
    agent_id                 TEXT    PRIMARY KEY,
    credits                  BIGINT  NOT NULL DEFAULT 0 CHECK (credits >= 0),
    created_at               TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS credit_ledger (
    id                       BIGSERIAL PRIMARY KEY,
    agent_id                 TEXT    NOT NULL REFERENCES agents (agent_id),
    delta                    BIGINT  NOT NULL,
    balance_after            BIGINT  NOT NULL,
    reason                   TEXT    NOT NULL, -- 'top_up' or 'purchase'
    property_id              BIGINT,
    actor                    TEXT    NOT NULL, -- who made the change (the agent, or the admin)
    at                       TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS credit_ledger_agent ON credit_ledger (agent_id, id);

-- One row per (agent, lead) bought.
CREATE TABLE IF NOT EXISTS purchases (
    id                       BIGSERIAL PRIMARY KEY,
    agent_id                 TEXT    NOT NULL REFERENCES agents (agent_id),
    property_id              BIGINT  NOT NULL,
    price_credits            BIGINT  NOT NULL,
    exclusive                BOOLEAN NOT NULL,
    purchased_at             TIMESTAMPTZ NOT NULL,
    UNIQUE (agent_id, property_id)
);
CREATE INDEX IF NOT EXISTS purchases_property ON purchases (property_id);

-- How many agents bought each lead; `sold_out` once an exclusive lead sold or a shared one reached
-- its buyer limit (searches leave those out).
CREATE TABLE IF NOT EXISTS lead_sales (
    property_id              BIGINT  PRIMARY KEY,
    buyers                   BIGINT  NOT NULL,
    exclusive                BOOLEAN NOT NULL,
    sold_out                 BOOLEAN NOT NULL
);

-- Checkout answers by Idempotency-Key, replayed for a repeated request.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    agent_id                 TEXT    NOT NULL,
    idempotency_key          TEXT    NOT NULL,
    request_hash             TEXT    NOT NULL,
    status_code              BIGINT  NOT NULL,
    response                 TEXT    NOT NULL,
    created_at               TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (agent_id, idempotency_key)
);

-- Marketplace events of the embedded default (with Kafka they go to `marketplace.events`).
CREATE TABLE IF NOT EXISTS marketplace_events (
    id                       BIGSERIAL PRIMARY KEY,
    kind                     TEXT    NOT NULL,
    property_id              BIGINT  NOT NULL,
    h3_cell                  BIGINT,
    postal_code              TEXT,
    agent                    TEXT    NOT NULL,
    at                       TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS marketplace_events_at ON marketplace_events (at);
