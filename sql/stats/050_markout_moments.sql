-- Step: statistics, sufficient statistics of the markout one-sample tests (SPEC §5.10).
-- Grain: one row per (scope, segment, metric): metric 'markout_bps:<curve>:<h>s', curve real_centre_point,
--   real_lit or sim_dark (duckpipe.markouts.CURVES); one observation per fill (not volume-weighted).
-- Reads: units (status 'done' only), markouts, sweeps (size bucket labels). Writes: nothing (rows go
--   to Python). Params: none. Segments as in §5.8: 'all', the sweep's size bucket, its group (G1/G2).
-- The fills are first reduced to per-cell moments (stats/_markout_cells.sql).
{% from 'stats/_scopes.sql' import scope_segment, grouping_sets %}
{% from 'stats/_markout_cells.sql' import cells, moments %}
WITH {{ cells("CASE WHEN m.source = 'sim' AND m.venue = 'dark_sim' THEN 'sim_dark'
                    WHEN m.source = 'real' AND m.venue IN ('centre_point', 'lit') THEN 'real_' || m.venue END",
              "'markout_bps:' || r.curve || ':' || r.horizon_s || 's'", "one_sample_t") }}
SELECT {{ scope_segment() }},
       test, metric,
       {{ moments("WHERE true", "") }}
FROM obs
{{ grouping_sets('test, metric') }}
ORDER BY scope, segment, test, metric;
