-- Properties listed more than once at different prices: first and latest asking price by posting
-- time (add `AND posted_at > now() - INTERVAL '7 days'` for this week's drops).
SELECT any_value(postal_code) AS postal_code, any_value(city) AS city, listing_kind, count(*) AS listings,
       first_value(list_price ORDER BY posted_at, source, source_listing_id) AS first_price,
       last_value(list_price ORDER BY posted_at, source, source_listing_id) AS latest_price,
       last_value(list_price ORDER BY posted_at, source, source_listing_id)
         - first_value(list_price ORDER BY posted_at, source, source_listing_id) AS change
FROM current_leads
WHERE list_price IS NOT NULL AND posted_at IS NOT NULL
GROUP BY property_id, listing_kind
HAVING count(DISTINCT list_price) > 1
ORDER BY change, postal_code;
