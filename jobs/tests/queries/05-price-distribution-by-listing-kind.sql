-- Price quartiles of the listings on sale now, rent and sale apart.
SELECT listing_kind, count(list_price) AS priced_listings,
       min(list_price) AS min_price,
       percentile_cont(0.25) WITHIN GROUP (ORDER BY list_price) AS p25_price,
       median(list_price) AS median_price,
       percentile_cont(0.75) WITHIN GROUP (ORDER BY list_price) AS p75_price,
       max(list_price) AS max_price
FROM current_leads
WHERE status = 'active'
GROUP BY listing_kind
ORDER BY listing_kind NULLS LAST;
