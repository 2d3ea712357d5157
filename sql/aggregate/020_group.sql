-- Step: aggregates, one table (SPEC §5.9), rendered once per entry of duckpipe.aggregate.AGGREGATES.
-- Grain: one row per value of the key columns (none: one global row).
-- Reads: agg_partials_facts (the per-unit sums of done units, duckpipe.analysis.partials), rows of
--   the grain that carries the table's keys. Writes: the table named by `table` (CREATE OR
--   REPLACE: the caller's transaction swaps every aggregate in at once).
-- Jinja params: table (identifier), keys (key columns, whitelisted in AGGREGATES),
--   scenarios (list of {column, param}: one savings column per scenario of settings.scenarios),
--   price_scale (the profile's price units per currency unit, a validated integer).
-- Bound params: $grain (the partial grain of the keys), $scenario_<i> (scenario names).
-- Units: filled_value_aud = sum(filled_value) / price_scale, in currency units (filled_value =
--   sum p x q of a sweep's fills, in price units; the name is historical), vwap in price units = sum(filled_value) / sum(filled_quantity)
--   over executed sweeps (= sum(vwap x q) / sum(q): volume-weighted over all fills, integer sums,
--   so a rebuild is bit-identical). Means = sum of the units' sums / sum of their counts (NULL
--   metrics ignored); a mean of nothing is NULL, never 0.
CREATE OR REPLACE TABLE {{ table | ident }} AS
SELECT
{% for key in keys %}
    {{ key | ident }},
{% endfor %}
    coalesce(sum(cp_orders), 0)::BIGINT AS cp_orders,
    coalesce(sum(sweeps), 0)::BIGINT AS sweeps,
    coalesce(sum(g1_sweeps), 0)::BIGINT AS g1_sweeps,
    coalesce(sum(g2_sweeps), 0)::BIGINT AS g2_sweeps,
    coalesce(sum(g3_sweeps), 0)::BIGINT AS g3_sweeps,
    coalesce(sum(qualifying_sweeps), 0)::BIGINT AS qualifying_sweeps,
    coalesce(sum(filled_quantity), 0)::BIGINT AS filled_quantity,
    (coalesce(sum(filled_value), 0) / {{ price_scale | ints }}.0)::DOUBLE AS filled_value_aud,
    (sum(vw_value) / nullif(sum(vw_quantity), 0))::DOUBLE AS vwap,
    sum(arrival_cost_sum) / nullif(sum(arrival_cost_n), 0) AS mean_arrival_cost_bps,
    sum(vw_cost_sum) / nullif(sum(vw_cost_n), 0) AS mean_vw_cost_bps,
    sum(fill_ratio_sum) / nullif(sum(fill_ratio_n), 0) AS mean_fill_ratio,
    sum(ttff_sum) / nullif(sum(ttff_n), 0) AS mean_time_to_first_fill_s,
    coalesce(sum(sim_offered_quantity), 0)::BIGINT AS sim_offered_quantity,
    coalesce(sum(sim_matched_quantity), 0)::BIGINT AS sim_matched_quantity,
    sum(sim_fill_ratio_sum) / nullif(sum(sim_fill_ratio_n), 0) AS mean_sim_fill_ratio,
    coalesce(sum(set_a_sweeps), 0)::BIGINT AS set_a_sweeps,
    coalesce(sum(set_b_sweeps), 0)::BIGINT AS set_b_sweeps
{% for s in scenarios %}
    , sum(savings_sum) FILTER (WHERE scenario = ${{ s.param }})
        / nullif(sum(savings_n) FILTER (WHERE scenario = ${{ s.param }}), 0)
        AS {{ s.column | ident }}
{% endfor %}
FROM agg_partials_facts
WHERE grain = $grain
{% if keys %}
GROUP BY {% for key in keys %}{{ key | ident }}{{ ", " if not loop.last }}{% endfor %}

ORDER BY {% for key in keys %}{{ key | ident }}{{ ", " if not loop.last }}{% endfor %}
{% endif %}
;
