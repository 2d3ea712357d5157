-- Step: statistics, sufficient statistics of Welch's t, simulated dark vs real lit markouts (SPEC §5.10).
-- Grain: one row per (scope, segment, metric 'markout_bps:sim_dark-real_lit:<h>s'), both sides.
-- Reads: TEMP stats_cells (010). Writes: nothing (rows go to Python). Params: none.
-- One observation per fill; segments as in §5.8.
SELECT scope, segment, test, metric,
       coalesce(any_value(n) FILTER (WHERE grp = 'sim'), 0) AS n1,
       any_value(mean) FILTER (WHERE grp = 'sim') AS mean1,
       any_value(var) FILTER (WHERE grp = 'sim') AS var1,
       coalesce(any_value(n) FILTER (WHERE grp = 'real'), 0) AS n2,
       any_value(mean) FILTER (WHERE grp = 'real') AS mean2,
       any_value(var) FILTER (WHERE grp = 'real') AS var2
FROM stats_cells
WHERE test = 'welch_t_markout'
GROUP BY scope, segment, test, metric
ORDER BY scope, segment, test, metric;
