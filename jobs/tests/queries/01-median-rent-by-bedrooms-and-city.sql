-- Median asking rent per bedroom count in each city (cities with at least three active rentals).
SELECT city, state, bedrooms_total AS bedrooms, count(*) AS rentals,
       median(list_price) AS median_rent
FROM current_leads
WHERE listing_kind = 'rent' AND status = 'active'
  AND city IN (SELECT city FROM current_leads
               WHERE listing_kind = 'rent' AND status = 'active'
               GROUP BY city HAVING count(*) >= 3)
GROUP BY city, state, bedrooms_total
ORDER BY city, state, bedrooms NULLS LAST;
