-- Step: statistics, sufficient statistics of the markout one-sample tests (SPEC §5.10).
-- Grain: one row per (scope, segment, metric): metric 'markout_bps:<curve>:<h>s', curve real_centre_point,
--   real_lit or sim_dark (duckpipe.markouts.CURVES); one observation per fill (not volume-weighted).
-- Reads: TEMP stats_cells (010). Writes: nothing (rows go to Python). Params: none.
-- Segments as in §5.8: 'all', the sweep's size bucket, its group (G1/G2).
SELECT scope, segment, test, metric, n, mean, var
FROM stats_cells
WHERE test = 'one_sample_t' AND metric LIKE 'markout_bps:%'
ORDER BY scope, segment, test, metric;
