-- Step: statistics, sufficient statistics of the one-way ANOVAs (SPEC §5.8).
-- Grain: one row per (scope, segment, test, metric) of anova_size_bucket and anova_scenario.
-- Reads: TEMP VIEW stats_observations (010). Writes: nothing (the rows go to Python).
-- Params: none.
-- Per group (n_i, mean_i, var_i), then k groups, N observations,
-- between SS = sum n_i (mean_i - grand mean)^2, within SS = sum (n_i - 1) var_i
-- (a group of one observation adds nothing within).
{% from 'stats/_scopes.sql' import scope_segment, grouping_sets %}
WITH groups AS (
    SELECT {{ scope_segment() }},
           test, metric, grp,
           count(*) AS n, avg(value) AS mean, coalesce(var_samp(value), 0) AS var
    FROM stats_observations
    WHERE test IN ('anova_size_bucket', 'anova_scenario')
    {{ grouping_sets('test, metric, grp') }}
),
grand AS (
    SELECT *, sum(n * mean) OVER w / sum(n) OVER w AS grand_mean
    FROM groups
    WINDOW w AS (PARTITION BY scope, segment, test, metric)
)
SELECT scope, segment, test, metric,
       count(*) AS k,
       sum(n) AS n,
       sum(n * (mean - grand_mean) ^ 2) AS ss_between,
       sum((n - 1) * var) AS ss_within
FROM grand
GROUP BY scope, segment, test, metric
ORDER BY scope, segment, test, metric;
