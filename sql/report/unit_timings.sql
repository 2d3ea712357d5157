-- Performance: per-unit timing distribution over done units (SPEC §6 performance.md).
-- Reads units; Jinja flag has_batch: units has batch_id (batches = distinct batch ids).
-- rows/s = rows / duration_s where duration_s > 0.
SELECT
    count(*) AS units,
    sum(duration_s) AS total_s,
    avg(duration_s) AS mean_s,
    min(duration_s) AS min_s,
    quantile_cont(duration_s, 0.5) AS p50_s,
    quantile_cont(duration_s, 0.9) AS p90_s,
    quantile_cont(duration_s, 0.99) AS p99_s,
    max(duration_s) AS max_s,
    sum(rows) AS rows,
    sum(rows) / nullif(sum(duration_s), 0) AS rows_per_s,
    {{ 'count(DISTINCT batch_id)' if has_batch else 'NULL' }} AS batches
FROM units
WHERE status = 'done' AND duration_s IS NOT NULL;
