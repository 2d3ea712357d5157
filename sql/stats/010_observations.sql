-- Step: statistics, observations (SPEC §5.8).
-- Grain: one row per (observation, test, metric); a TEMP VIEW (nothing materialised) that the
--   sufficient-statistics queries 020-040 aggregate, dropped by 090.
-- Reads: units (status 'done' only), sweeps, dark_sweeps, scenario_costs.
-- Writes: TEMP VIEW stats_observations(security_code, size_bucket, grp_label, test, metric, grp,
--   value): size_bucket / grp_label are the segment keys (NULL where that segment is not
--   meaningful), grp the compared group of Welch and ANOVA.
-- Params: none (no bound values; no Jinja).
-- Scopes: 'global' and 'security=<code>'. Segments: 'all', 'size=<bucket>', 'group=G1|G2' where
--   meaningful (qualifying sweeps are all G1, so no group segment for the paired tests).
-- Tests: paired_t (real - simulated, set-A sweeps), one_sample_t (savings_bps vs 0 per scenario),
--   welch_t (G1 vs G2), anova_size_bucket (arrival cost across buckets), anova_scenario
--   (savings_bps across scenarios). NULL values are dropped here, so n counts usable rows.
CREATE OR REPLACE TEMP VIEW stats_observations AS
WITH done AS (
    SELECT security_code, date FROM units WHERE status = 'done'
),
sw AS (
    SELECT s.*, 'G' || s.group_id AS grp_label
    FROM sweeps s SEMI JOIN done USING (security_code, date)
),
paired AS (
    SELECT sw.security_code, sw.size_bucket, NULL AS grp_label, 'paired_t' AS test, m.metric,
           'diff' AS grp, m.value
    FROM dark_sweeps d
    SEMI JOIN done USING (security_code, date)
    JOIN sw USING (security_code, date, order_id),
    LATERAL (VALUES
        ('fill_ratio', d.real_fill_ratio - d.sim_fill_ratio),
        ('time_to_first_fill_s', d.real_time_to_first_fill_s - d.sim_time_to_first_fill_s),
        ('vwte_s', d.real_vwte_s - d.sim_vwte_s),
        ('arrival_cost_bps', d.real_arrival_cost_bps - d.sim_arrival_cost_bps)
    ) AS m(metric, value)
    WHERE d.set_label = 'A'
),
savings AS (
    SELECT sw.security_code, sw.size_bucket, sw.grp_label, c.scenario, c.savings_bps
    FROM scenario_costs c
    SEMI JOIN done USING (security_code, date)
    JOIN sw USING (security_code, date, order_id)
),
welch AS (
    SELECT sw.security_code, sw.size_bucket, NULL AS grp_label, 'welch_t' AS test, m.metric,
           sw.grp_label AS grp, m.value
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
    SELECT security_code, size_bucket, grp_label, 'one_sample_t', 'savings_bps:' || scenario,
           NULL, savings_bps
    FROM savings
    UNION ALL
    SELECT * FROM welch
    UNION ALL
    -- arrival cost across size buckets: the bucket is the factor, so no size segment
    SELECT security_code, NULL, grp_label, 'anova_size_bucket', 'arrival_cost_bps',
           size_bucket, arrival_cost_bps
    FROM sw WHERE group_id IN (1, 2)
    UNION ALL
    SELECT security_code, size_bucket, grp_label, 'anova_scenario', 'savings_bps',
           scenario, savings_bps
    FROM savings
)
SELECT security_code, size_bucket, grp_label, test, metric, grp, value::DOUBLE AS value
FROM observations
WHERE value IS NOT NULL AND NOT isnan(value::DOUBLE)
  AND (test <> 'anova_size_bucket' OR grp IS NOT NULL);
