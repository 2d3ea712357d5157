-- Performance: the stages of one run (SPEC §4 run_stages) with their throughput.
-- Parameter: $run_id.
SELECT stage, started_at, duration_s, rows, rows / nullif(duration_s, 0) AS rows_per_s, peak_rss_bytes,
       spilled_bytes
FROM run_stages
WHERE run_id = $run_id
ORDER BY started_at NULLS LAST, stage;
