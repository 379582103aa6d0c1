-- What a lead sells for against how complete its listing is, rent and sale apart.
SELECT CASE WHEN completeness < 0.5 THEN '0.0-0.5'
            WHEN completeness < 0.7 THEN '0.5-0.7'
            WHEN completeness < 0.9 THEN '0.7-0.9'
            ELSE '0.9-1.0' END AS completeness_bucket, listing_kind,
       count(*) AS leads, min(lead_price) AS min_lead_price,
       median(lead_price) AS median_lead_price, max(lead_price) AS max_lead_price
FROM current_leads
WHERE status = 'active'
GROUP BY 1, 2
ORDER BY 1, 2;
