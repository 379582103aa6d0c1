-- One row per source listing, enriched: the pipeline's output, upserted by (source, source_listing_id).
CREATE TABLE IF NOT EXISTS listings (
    -- The key columns and the rank sort byte-wise ("C"), as SQLite's BINARY does, whatever the
    -- database's locale: the survivor must not depend on the backend. Byte-wise is also faster.
    source                   TEXT    COLLATE "C" NOT NULL,
    source_listing_id        TEXT    COLLATE "C" NOT NULL,
    property_id              BIGINT NOT NULL,
    url                      TEXT    NOT NULL,
    fetched_at               TIMESTAMPTZ    NOT NULL,
    listing_kind             TEXT,
    property_type            TEXT,
    list_price               DOUBLE PRECISION,
    price_period             TEXT,
    bedrooms_total           INTEGER,
    bathrooms_total          DOUBLE PRECISION,
    living_area_sqft         BIGINT, -- u32: wider than INTEGER, as SQLite's 64-bit INTEGER
    street_address           TEXT,
    unit_number              TEXT,
    city                     TEXT,
    state_or_province        TEXT,
    postal_code              TEXT,
    latitude                 DOUBLE PRECISION,
    longitude                DOUBLE PRECISION,
    h3_cell                  BIGINT,
    title                    TEXT,
    description              TEXT,
    posted_at                TIMESTAMPTZ,
    contact_name             TEXT,
    contact_phone            TEXT,
    contact_email            TEXT,
    fraud_score              DOUBLE PRECISION    NOT NULL,
    fraud_reasons            JSONB   NOT NULL, -- JSON array of {code, contribution, detail}
    quality_score            DOUBLE PRECISION    NOT NULL,
    completeness             DOUBLE PRECISION    NOT NULL,
    lead_price               BIGINT  NOT NULL, -- u32 credits
    price_breakdown          JSONB   NOT NULL, -- JSON object
    status                   TEXT    NOT NULL,
    schema_version           INTEGER NOT NULL,
    -- Survivorship order within a property: completeness (per mille), then fetched_at, then the ids.
    survivor_rank            TEXT    COLLATE "C" NOT NULL,
    PRIMARY KEY (source, source_listing_id)
);
CREATE INDEX IF NOT EXISTS listings_property ON listings (property_id);

-- The marketplace's view: one row per property, the survivor listing's values plus how many listings
-- and which sources describe it. Kept current by the sink in the same transaction as `listings`.
CREATE TABLE IF NOT EXISTS leads (
    property_id              BIGINT PRIMARY KEY,
    source                   TEXT    NOT NULL,
    source_listing_id        TEXT    NOT NULL,
    url                      TEXT    NOT NULL,
    fetched_at               TIMESTAMPTZ    NOT NULL,
    listing_kind             TEXT,
    property_type            TEXT,
    list_price               DOUBLE PRECISION,
    price_period             TEXT,
    bedrooms_total           INTEGER,
    bathrooms_total          DOUBLE PRECISION,
    living_area_sqft         BIGINT, -- u32: wider than INTEGER, as SQLite's 64-bit INTEGER
    street_address           TEXT,
    unit_number              TEXT,
    city                     TEXT,
    state_or_province        TEXT,
    postal_code              TEXT,
    latitude                 DOUBLE PRECISION,
    longitude                DOUBLE PRECISION,
    h3_cell                  BIGINT,
    title                    TEXT,
    description              TEXT,
    posted_at                TIMESTAMPTZ,
    contact_name             TEXT,
    contact_phone            TEXT,
    contact_email            TEXT,
    fraud_score              DOUBLE PRECISION    NOT NULL,
    fraud_reasons            JSONB   NOT NULL,
    quality_score            DOUBLE PRECISION    NOT NULL,
    completeness             DOUBLE PRECISION    NOT NULL,
    lead_price               BIGINT  NOT NULL, -- u32 credits
    price_breakdown          JSONB   NOT NULL,
    status                   TEXT    NOT NULL,
    schema_version           INTEGER NOT NULL,
    listing_count            INTEGER NOT NULL,
    sources                  TEXT    NOT NULL  -- comma-separated, sorted
);
CREATE INDEX IF NOT EXISTS leads_postal ON leads (postal_code);
CREATE INDEX IF NOT EXISTS leads_h3 ON leads (h3_cell);
CREATE INDEX IF NOT EXISTS leads_status ON leads (status);

-- Records no stage could process, with the reason; replayable from `original`.
CREATE TABLE IF NOT EXISTS dead_letters (
    id                       BIGSERIAL PRIMARY KEY,
    stage                    TEXT NOT NULL,
    reason_code              TEXT NOT NULL,
    reason_detail            TEXT NOT NULL,
    source                   TEXT,
    source_listing_id        TEXT,
    reference                TEXT NOT NULL,
    original                 TEXT NOT NULL,
    rejected_at              TIMESTAMPTZ NOT NULL,
    schema_version           INTEGER NOT NULL,
    -- Where in the input stream it was read: makes the write idempotent on replay.
    stream                   TEXT NOT NULL,
    stream_partition         INTEGER NOT NULL,
    stream_offset            BIGINT NOT NULL,
    UNIQUE (stream, stream_partition, stream_offset)
);

-- Exactly-once bookkeeping: the next offset to read per consumer and input partition, committed in
-- the same transaction as the rows it produced.
CREATE TABLE IF NOT EXISTS sink_offsets (
    consumer                 TEXT    NOT NULL,
    stream                   TEXT    NOT NULL,
    stream_partition         INTEGER NOT NULL,
    next_offset              BIGINT NOT NULL,
    updated_at               TIMESTAMPTZ    NOT NULL,
    PRIMARY KEY (consumer, stream, stream_partition)
);
