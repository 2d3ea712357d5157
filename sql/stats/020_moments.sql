-- Step: statistics, sufficient statistics of the one-sample tests (SPEC §5.8).
-- Grain: one row per (scope, segment, test, metric) of paired_t and one_sample_t (savings).
-- Reads: TEMP stats_cells (010). Writes: nothing (the rows go to Python).
-- Params: none.
-- paired_t observations are already real - simulated differences, so both tests are a
-- one-sample t on (n, mean, var_samp).
SELECT scope, segment, test, metric, n, mean, var
FROM stats_cells
WHERE test IN ('paired_t', 'one_sample_t') AND metric NOT LIKE 'markout_bps:%'
ORDER BY scope, segment, test, metric;
