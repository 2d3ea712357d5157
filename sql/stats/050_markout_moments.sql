-- Step: statistics, sufficient statistics of the markout one-sample tests (SPEC §5.10).
-- Grain: one row per (scope, segment, metric): metric 'markout_bps:<curve>:<h>s', curve real_centre_point,
--   real_lit or sim_dark (duckpipe.markouts.CURVES); one observation per fill (not volume-weighted).
-- Reads: units (status 'done' only), markouts. Writes: nothing (the rows go to Python).
-- Params: none. Segments as in §5.8: 'all', the sweep's size bucket, its group (G1/G2).
{% from 'stats/_scopes.sql' import scope_segment, grouping_sets %}
WITH obs AS (
    SELECT m.security_code, m.size_bucket, 'G' || m.group_id AS grp_label, 'one_sample_t' AS test,
           'markout_bps:' || CASE WHEN m.source = 'sim' THEN 'sim_dark' ELSE 'real_' || m.venue END
               || ':' || m.horizon_s || 's' AS metric,
           m.markout_bps AS value
    FROM markouts m
    SEMI JOIN (SELECT security_code, date FROM units WHERE status = 'done') d USING (security_code, date)
    WHERE ((m.source = 'real' AND m.venue IN ('centre_point', 'lit')) OR (m.source = 'sim' AND m.venue = 'dark_sim'))
      AND m.markout_bps IS NOT NULL AND NOT isnan(m.markout_bps)
)
SELECT {{ scope_segment() }},
       test, metric,
       count(*) AS n,
       avg(value) AS mean,
       var_samp(value) AS var
FROM obs
{{ grouping_sets('test, metric') }}
ORDER BY scope, segment, test, metric;
