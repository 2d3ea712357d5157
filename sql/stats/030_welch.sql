-- Step: statistics, sufficient statistics of a Welch t between two groups of one test family:
--   welch_t, G1 vs G2 (SPEC §5.8); welch_t_markout, simulated dark vs real lit markouts (§5.10).
-- Grain: one row per (scope, segment, metric) of the test, both groups side by side.
-- Reads: TEMP stats_cells (010). Writes: nothing (the rows go to Python).
-- Bound params: $test (the family), $g1, $g2 (the two group labels of stats_cells.grp).
SELECT scope, segment, test, metric,
       coalesce(any_value(n) FILTER (WHERE grp = $g1), 0) AS n1,
       any_value(mean) FILTER (WHERE grp = $g1) AS mean1,
       any_value(var) FILTER (WHERE grp = $g1) AS var1,
       coalesce(any_value(n) FILTER (WHERE grp = $g2), 0) AS n2,
       any_value(mean) FILTER (WHERE grp = $g2) AS mean2,
       any_value(var) FILTER (WHERE grp = $g2) AS var2
FROM stats_cells
WHERE test = $test
GROUP BY scope, segment, test, metric
ORDER BY scope, segment, test, metric;
