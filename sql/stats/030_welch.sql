-- Step: statistics, sufficient statistics of Welch's t, G1 vs G2 (SPEC §5.8).
-- Grain: one row per (scope, segment, metric) of welch_t, both groups side by side.
-- Reads: TEMP VIEW stats_observations (010). Writes: nothing (the rows go to Python).
-- Params: none.
{% from 'stats/_scopes.sql' import scope_segment, grouping_sets %}
SELECT {{ scope_segment() }},
       test, metric,
       count(*) FILTER (WHERE grp = 'G1') AS n1,
       avg(value) FILTER (WHERE grp = 'G1') AS mean1,
       var_samp(value) FILTER (WHERE grp = 'G1') AS var1,
       count(*) FILTER (WHERE grp = 'G2') AS n2,
       avg(value) FILTER (WHERE grp = 'G2') AS mean2,
       var_samp(value) FILTER (WHERE grp = 'G2') AS var2
FROM stats_observations
WHERE test = 'welch_t'
{{ grouping_sets('test, metric') }}
ORDER BY scope, segment, test, metric;
