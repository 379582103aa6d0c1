-- The ten cities with the most listings on the market now.
SELECT city, state, count(*) AS active_listings, count(DISTINCT property_id) AS properties
FROM current_leads
WHERE status = 'active' AND city IS NOT NULL
GROUP BY city, state
ORDER BY active_listings DESC, city, state
LIMIT 10;
