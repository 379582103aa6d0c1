-- Listings and unique properties per source, and overall: how much of each feed repeats a property.
SELECT source, count(*) AS listings, count(DISTINCT property_id) AS unique_properties,
       round(1 - CAST(count(DISTINCT property_id) AS DOUBLE) / count(*), 3) AS duplicate_rate
FROM current_leads
GROUP BY source
UNION ALL
SELECT 'all sources', count(*), count(DISTINCT property_id),
       round(1 - CAST(count(DISTINCT property_id) AS DOUBLE) / count(*), 3)
FROM current_leads
ORDER BY source;
