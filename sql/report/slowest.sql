-- Performance: the slowest done units (units of one batch share its time, hence the tie-breakers).
-- Parameter: $limit (INTEGER).
SELECT security_code, date, duration_s, rows, rows / nullif(duration_s, 0) AS rows_per_s, run_id
FROM units
WHERE status = 'done'
ORDER BY duration_s DESC NULLS LAST, date, security_code
LIMIT $limit;
