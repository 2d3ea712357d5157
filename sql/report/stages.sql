-- Performance: the stages of one run (SPEC §4 run_stages) with their throughput. The report's own
-- stage is left out: it is recorded after the report is written (so an earlier report's row would
-- be shown, and a rerun of this query would not give the report's table). Parameter: $run_id.
SELECT stage, started_at, duration_s, rows, rows / nullif(duration_s, 0) AS rows_per_s, peak_rss_bytes,
       spilled_bytes
FROM run_stages
WHERE run_id = $run_id AND stage <> 'report'
ORDER BY started_at NULLS LAST, stage;
