-- Step: statistics, sufficient statistics of Welch's t, simulated dark vs real lit markouts (SPEC §5.10).
-- Grain: one row per (scope, segment, metric 'markout_bps:sim_dark-real_lit:<h>s'), both sides.
-- Reads: units (status 'done' only), markouts. Writes: nothing (the rows go to Python).
-- Params: none. One observation per fill; segments as in §5.8.
{% from 'stats/_scopes.sql' import scope_segment, grouping_sets %}
WITH obs AS (
    SELECT m.security_code, m.size_bucket, 'G' || m.group_id AS grp_label, 'welch_t_markout' AS test,
           'markout_bps:sim_dark-real_lit:' || m.horizon_s || 's' AS metric,
           m.source AS grp, m.markout_bps AS value
    FROM markouts m
    SEMI JOIN (SELECT security_code, date FROM units WHERE status = 'done') d USING (security_code, date)
    WHERE ((m.source = 'real' AND m.venue = 'lit') OR (m.source = 'sim' AND m.venue = 'dark_sim'))
      AND m.markout_bps IS NOT NULL AND NOT isnan(m.markout_bps)
)
SELECT {{ scope_segment() }},
       test, metric,
       count(*) FILTER (WHERE grp = 'sim') AS n1,
       avg(value) FILTER (WHERE grp = 'sim') AS mean1,
       var_samp(value) FILTER (WHERE grp = 'sim') AS var1,
       count(*) FILTER (WHERE grp = 'real') AS n2,
       avg(value) FILTER (WHERE grp = 'real') AS mean2,
       var_samp(value) FILTER (WHERE grp = 'real') AS var2
FROM obs
{{ grouping_sets('test, metric') }}
ORDER BY scope, segment, test, metric;
