-- Step: statistics, sufficient statistics of Welch's t, simulated dark vs real lit markouts (SPEC §5.10).
-- Grain: one row per (scope, segment, metric 'markout_bps:sim_dark-real_lit:<h>s'), both sides.
-- Reads: units (status 'done' only), markouts, sweeps (size bucket labels). Writes: nothing (rows go
--   to Python). Params: none. One observation per fill; segments as in §5.8; the fills are first
--   reduced to per-cell moments (stats/_markout_cells.sql).
{% from 'stats/_scopes.sql' import scope_segment, grouping_sets %}
{% from 'stats/_markout_cells.sql' import cells, moments %}
WITH {{ cells("CASE WHEN m.source = 'sim' AND m.venue = 'dark_sim' THEN 'sim'
                    WHEN m.source = 'real' AND m.venue = 'lit' THEN 'real' END",
              "'markout_bps:sim_dark-real_lit:' || r.horizon_s || 's'", "welch_t_markout") }}
SELECT {{ scope_segment() }},
       test, metric,
       {{ moments("WHERE grp = 'sim'", "1") }},
       {{ moments("WHERE grp = 'real'", "2") }}
FROM obs
{{ grouping_sets('test, metric') }}
ORDER BY scope, segment, test, metric;
