-- Step: partial statistics (SPEC §5.8): the §5.8 observations of the units being built, reduced
--   to (n, sum, m2) per unit x (size_bucket, grp_label, test, metric, grp).
-- Reads: _partial_build, sweeps, dark_sweeps, scenario_costs (by name). Writes: stats_partials
--   (appends). Bound params: $lo, $hi (the dates being built).
-- size_bucket / grp_label are the segment keys (NULL where that segment is not meaningful), grp
-- the compared group of Welch and ANOVA ('' for the one-sample tests). NULL and NaN values are
-- dropped, so n counts usable rows. m2 = var_samp x (n - 1): DuckDB's Welford accumulation.
-- Tests: paired_t (real - simulated, set-A sweeps), one_sample_t (savings_bps vs 0 per scenario),
--   welch_t (G1 vs G2), anova_size_bucket (arrival cost across buckets), anova_scenario
--   (savings_bps across scenarios). The markout tests come from agg_partials_markouts.
INSERT INTO stats_partials BY NAME
WITH b AS (
    SELECT security_code, date FROM _partial_build
),
sw AS (
    SELECT s.*, 'G' || s.group_id AS grp_label
    FROM sweeps s SEMI JOIN b USING (security_code, date) WHERE s.date BETWEEN $lo AND $hi
),
paired AS (
    SELECT sw.security_code, sw.date, sw.size_bucket, NULL AS grp_label, 'paired_t' AS test,
           m.metric, 'diff' AS grp, m.value
    FROM dark_sweeps d
    JOIN sw USING (security_code, date, order_id),
    LATERAL (VALUES
        ('fill_ratio', d.real_fill_ratio - d.sim_fill_ratio),
        ('time_to_first_fill_s', d.real_time_to_first_fill_s - d.sim_time_to_first_fill_s),
        ('vwte_s', d.real_vwte_s - d.sim_vwte_s),
        ('arrival_cost_bps', d.real_arrival_cost_bps - d.sim_arrival_cost_bps)
    ) AS m(metric, value)
    WHERE d.set_label = 'A' AND d.date BETWEEN $lo AND $hi
),
savings AS (
    SELECT sw.security_code, sw.date, sw.size_bucket, sw.grp_label, c.scenario, c.savings_bps
    FROM scenario_costs c
    JOIN sw USING (security_code, date, order_id)
    WHERE c.date BETWEEN $lo AND $hi
),
welch AS (
    SELECT sw.security_code, sw.date, sw.size_bucket, NULL AS grp_label, 'welch_t' AS test,
           m.metric, sw.grp_label AS grp, m.value
    FROM sw,
    LATERAL (VALUES
        ('arrival_cost_bps', sw.arrival_cost_bps),
        ('vw_cost_bps', sw.vw_cost_bps),
        ('time_to_first_fill_s', sw.time_to_first_fill_s)
    ) AS m(metric, value)
    WHERE sw.group_id IN (1, 2)
),
observations AS (
    SELECT * FROM paired
    UNION ALL
    SELECT security_code, date, size_bucket, grp_label, 'one_sample_t', 'savings_bps:' || scenario,
           '', savings_bps
    FROM savings
    UNION ALL
    SELECT * FROM welch
    UNION ALL
    -- arrival cost across size buckets: the bucket is the factor, so no size segment
    SELECT security_code, date, NULL, grp_label, 'anova_size_bucket', 'arrival_cost_bps',
           size_bucket, arrival_cost_bps
    FROM sw WHERE group_id IN (1, 2)
    UNION ALL
    SELECT security_code, date, size_bucket, grp_label, 'anova_scenario', 'savings_bps',
           scenario, savings_bps
    FROM savings
),
usable AS (
    SELECT security_code, date, size_bucket, grp_label, test, metric, grp, value::DOUBLE AS value
    FROM observations
    WHERE value IS NOT NULL AND NOT isnan(value::DOUBLE)
      AND (test <> 'anova_size_bucket' OR grp IS NOT NULL)
)
SELECT security_code, date, size_bucket, grp_label, test, metric, grp,
       count(*) AS n, sum(value) AS s, coalesce(var_samp(value), 0) * (count(*) - 1) AS m2
FROM usable
GROUP BY ALL;
