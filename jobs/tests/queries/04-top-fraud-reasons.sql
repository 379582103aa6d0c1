-- Which fraud signals fire most, on how many quarantined listings, and how much they weigh.
SELECT reason['code'] AS code, count(*) AS listings,
       sum(CASE WHEN status = 'quarantined' THEN 1 ELSE 0 END) AS quarantined,
       round(avg(reason['contribution']), 3) AS mean_contribution
FROM (SELECT status, unnest(fraud_reasons) AS reason FROM current_leads)
GROUP BY reason['code']
ORDER BY listings DESC, code;
