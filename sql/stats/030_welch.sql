-- Step: statistics, sufficient statistics of Welch's t, G1 vs G2 (SPEC §5.8).
-- Grain: one row per (scope, segment, metric) of welch_t, both groups side by side.
-- Reads: TEMP stats_cells (010). Writes: nothing (the rows go to Python).
-- Params: none.
SELECT scope, segment, test, metric,
       coalesce(any_value(n) FILTER (WHERE grp = 'G1'), 0) AS n1,
       any_value(mean) FILTER (WHERE grp = 'G1') AS mean1,
       any_value(var) FILTER (WHERE grp = 'G1') AS var1,
       coalesce(any_value(n) FILTER (WHERE grp = 'G2'), 0) AS n2,
       any_value(mean) FILTER (WHERE grp = 'G2') AS mean2,
       any_value(var) FILTER (WHERE grp = 'G2') AS var2
FROM stats_cells
WHERE test = 'welch_t'
GROUP BY scope, segment, test, metric
ORDER BY scope, segment, test, metric;
