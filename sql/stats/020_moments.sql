-- Step: statistics, sufficient statistics of the one-sample tests (SPEC §5.8).
-- Grain: one row per (scope, segment, test, metric) of paired_t and one_sample_t.
-- Reads: TEMP stats_samples (010). Writes: nothing (the rows go to Python).
-- Params: none.
-- paired_t observations are already real - simulated differences, so both tests are a
-- one-sample t on (n, mean, var_samp).
SELECT scope, segment, test, metric,
       count(*) AS n,
       avg(value) AS mean,
       var_samp(value) AS var
FROM stats_samples
WHERE test IN ('paired_t', 'one_sample_t')
GROUP BY scope, segment, test, metric
ORDER BY scope, segment, test, metric;
