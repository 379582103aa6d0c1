-- Median price per square foot by state (the `state` partition column), rent and sale apart.
SELECT state, listing_kind, count(*) AS listings_with_area,
       round(median(list_price / living_area_sqft), 2) AS median_price_per_sqft
FROM current_leads
WHERE status = 'active' AND living_area_sqft > 0 AND list_price IS NOT NULL
GROUP BY state, listing_kind
ORDER BY state, listing_kind;
