-- Share of each source's listings quarantined as likely fraud.
SELECT source, count(*) AS listings,
       sum(CASE WHEN status = 'quarantined' THEN 1 ELSE 0 END) AS quarantined,
       round(avg(CASE WHEN status = 'quarantined' THEN 1.0 ELSE 0.0 END), 3) AS fraud_rate
FROM current_leads
GROUP BY source
ORDER BY source;
