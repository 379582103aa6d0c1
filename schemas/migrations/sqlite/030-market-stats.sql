-- Market statistics per postal code and per H3 cell (resolution 9, as stored), by listing kind,
-- over active leads. SQLite has no materialised views: plain views, always current (the embedded
-- default's data is small). Medians by row number; demand counts marketplace events of 7 days.
CREATE VIEW IF NOT EXISTS market_stats_postal AS
WITH active AS (
    SELECT postal_code, COALESCE(listing_kind, 'unknown') AS kind, list_price,
           list_price / NULLIF(living_area_sqft, 0) AS price_per_sqft
    FROM leads
    WHERE status = 'active' AND postal_code IS NOT NULL
), ranked AS (
    SELECT postal_code, kind, list_price, price_per_sqft,
           row_number() OVER (PARTITION BY postal_code, kind ORDER BY list_price IS NULL, list_price) AS price_rank,
           count(list_price) OVER (PARTITION BY postal_code, kind) AS prices,
           row_number() OVER (PARTITION BY postal_code, kind ORDER BY price_per_sqft IS NULL, price_per_sqft) AS sqft_rank,
           count(price_per_sqft) OVER (PARTITION BY postal_code, kind) AS sqft_prices
    FROM active
), demand AS (
    SELECT postal_code, count(*) AS events
    FROM marketplace_events
    WHERE julianday(at) > julianday('now', '-7 days') AND postal_code IS NOT NULL
    GROUP BY postal_code
)
SELECT r.postal_code, r.kind, count(*) AS active_supply,
       avg(CASE WHEN r.price_rank IN ((r.prices + 1) / 2, (r.prices + 2) / 2) THEN r.list_price END) AS median_price,
       avg(CASE WHEN r.sqft_rank IN ((r.sqft_prices + 1) / 2, (r.sqft_prices + 2) / 2) THEN r.price_per_sqft END) AS median_price_per_sqft,
       COALESCE(max(d.events), 0) AS demand_7d
FROM ranked r LEFT JOIN demand d ON d.postal_code = r.postal_code
GROUP BY r.postal_code, r.kind;

CREATE VIEW IF NOT EXISTS market_stats_h3 AS
WITH active AS (
    SELECT h3_cell, COALESCE(listing_kind, 'unknown') AS kind, list_price,
           list_price / NULLIF(living_area_sqft, 0) AS price_per_sqft
    FROM leads
    WHERE status = 'active' AND h3_cell IS NOT NULL
), ranked AS (
    SELECT h3_cell, kind, list_price, price_per_sqft,
           row_number() OVER (PARTITION BY h3_cell, kind ORDER BY list_price IS NULL, list_price) AS price_rank,
           count(list_price) OVER (PARTITION BY h3_cell, kind) AS prices,
           row_number() OVER (PARTITION BY h3_cell, kind ORDER BY price_per_sqft IS NULL, price_per_sqft) AS sqft_rank,
           count(price_per_sqft) OVER (PARTITION BY h3_cell, kind) AS sqft_prices
    FROM active
), demand AS (
    SELECT h3_cell, count(*) AS events
    FROM marketplace_events
    WHERE julianday(at) > julianday('now', '-7 days') AND h3_cell IS NOT NULL
    GROUP BY h3_cell
)
SELECT r.h3_cell, r.kind, count(*) AS active_supply,
       avg(CASE WHEN r.price_rank IN ((r.prices + 1) / 2, (r.prices + 2) / 2) THEN r.list_price END) AS median_price,
       avg(CASE WHEN r.sqft_rank IN ((r.sqft_prices + 1) / 2, (r.sqft_prices + 2) / 2) THEN r.price_per_sqft END) AS median_price_per_sqft,
       COALESCE(max(d.events), 0) AS demand_7d
FROM ranked r LEFT JOIN demand d ON d.h3_cell = r.h3_cell
GROUP BY r.h3_cell, r.kind;
