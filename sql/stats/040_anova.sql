-- Step: statistics, sufficient statistics of the one-way ANOVAs (SPEC §5.8).
-- Grain: one row per (scope, segment, test, metric) of anova_size_bucket and anova_scenario.
-- Reads: TEMP stats_cells (010: one row per group). Writes: nothing (the rows go to Python).
-- Params: none.
-- Per group (n_i, mean_i, m2_i), then k groups, N observations,
-- between SS = sum n_i (mean_i - grand mean)^2, within SS = sum m2_i
-- (a group of one observation adds nothing within).
WITH grand AS (
    SELECT *, sum(n * mean) OVER w / sum(n) OVER w AS grand_mean
    FROM stats_cells
    WHERE test IN ('anova_size_bucket', 'anova_scenario')
    WINDOW w AS (PARTITION BY scope, segment, test, metric)
)
SELECT scope, segment, test, metric,
       count(*) AS k,
       sum(n) AS n,
       sum(n * (mean - grand_mean) ^ 2) AS ss_between,
       sum(m2) AS ss_within
FROM grand
GROUP BY scope, segment, test, metric
ORDER BY scope, segment, test, metric;
