-- How old the listings are when we hold them: age of `posted_at` against the newest posting in the
-- lake (use `now()` instead for a live lake).
WITH newest AS (SELECT max(posted_at) AS as_of FROM current_leads),
aged AS (
  SELECT (to_unixtime(as_of) - to_unixtime(posted_at)) / 86400.0 AS age_days
  FROM current_leads CROSS JOIN newest
)
SELECT CASE WHEN age_days IS NULL THEN '9 unknown'
            WHEN age_days < 1 THEN '1 under a day'
            WHEN age_days < 7 THEN '2 1-7 days'
            WHEN age_days < 30 THEN '3 7-30 days'
            WHEN age_days < 365 THEN '4 30-365 days'
            ELSE '5 over a year' END AS age,
       count(*) AS listings
FROM aged
GROUP BY 1
ORDER BY 1;
