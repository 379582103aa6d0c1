-- Market statistics the API and analysts read: per postal code and per H3 cell (resolution 9, as
-- stored), by listing kind, over active leads. Materialised (the enrich job refreshes them,
-- concurrently, every `store.market_stats_refresh` and when it stops); demand counts marketplace
-- events (views, cart adds, purchases) of the last 7 days.
CREATE MATERIALIZED VIEW IF NOT EXISTS market_stats_postal AS
WITH active AS (
    SELECT postal_code, COALESCE(listing_kind, 'unknown') AS kind, list_price,
           list_price / NULLIF(living_area_sqft, 0) AS price_per_sqft
    FROM leads
    WHERE status = 'active' AND postal_code IS NOT NULL
), demand AS (
    SELECT postal_code, count(*) AS events
    FROM marketplace_events
    WHERE at > now() - interval '7 days' AND postal_code IS NOT NULL
    GROUP BY postal_code
)
SELECT a.postal_code, a.kind, count(*) AS active_supply,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY a.list_price) AS median_price,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY a.price_per_sqft) AS median_price_per_sqft,
       COALESCE(max(d.events), 0) AS demand_7d
FROM active a LEFT JOIN demand d ON d.postal_code = a.postal_code
GROUP BY a.postal_code, a.kind;
CREATE UNIQUE INDEX IF NOT EXISTS market_stats_postal_key ON market_stats_postal (postal_code, kind);

CREATE MATERIALIZED VIEW IF NOT EXISTS market_stats_h3 AS
WITH active AS (
    SELECT h3_cell, COALESCE(listing_kind, 'unknown') AS kind, list_price,
           list_price / NULLIF(living_area_sqft, 0) AS price_per_sqft
    FROM leads
    WHERE status = 'active' AND h3_cell IS NOT NULL
), demand AS (
    SELECT h3_cell, count(*) AS events
    FROM marketplace_events
    WHERE at > now() - interval '7 days' AND h3_cell IS NOT NULL
    GROUP BY h3_cell
)
SELECT a.h3_cell, a.kind, count(*) AS active_supply,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY a.list_price) AS median_price,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY a.price_per_sqft) AS median_price_per_sqft,
       COALESCE(max(d.events), 0) AS demand_7d
FROM active a LEFT JOIN demand d ON d.h3_cell = a.h3_cell
GROUP BY a.h3_cell, a.kind;
CREATE UNIQUE INDEX IF NOT EXISTS market_stats_h3_key ON market_stats_h3 (h3_cell, kind);
