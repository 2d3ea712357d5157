-- Step: statistics, sufficient statistics of the one-sample tests (SPEC §5.8).
-- Grain: one row per (scope, segment, test, metric) of paired_t and one_sample_t.
-- Reads: TEMP VIEW stats_observations (010). Writes: nothing (the rows go to Python).
-- Params: none.
-- paired_t observations are already real - simulated differences, so both tests are a
-- one-sample t on (n, mean, var_samp).
{% from 'stats/_scopes.sql' import scope_segment, grouping_sets %}
SELECT {{ scope_segment() }},
       test, metric,
       count(*) AS n,
       avg(value) AS mean,
       var_samp(value) AS var
FROM stats_observations
WHERE test IN ('paired_t', 'one_sample_t')
{{ grouping_sets('test, metric') }}
ORDER BY scope, segment, test, metric;
