-- Step: aggregates, one table (SPEC §5.9), rendered once per entry of duckpipe.aggregate.AGGREGATES.
-- Grain: one row per value of the key columns (none: one global row).
-- Reads: TEMP agg_facts (010). Writes: the table named by `table` (CREATE OR REPLACE: the
--   caller's transaction swaps every aggregate in at once).
-- Jinja params: table (identifier), keys (key columns, whitelisted in AGGREGATES),
--   scenarios (list of {column, param}: one savings column per scenario of settings.scenarios),
--   price_scale (the profile's price units per currency unit, a validated integer).
-- Bound params: $scenario_<i> (scenario names).
-- Units: filled_value_aud = sum(filled_value) / price_scale, in currency units (filled_value =
--   sum p x q of a sweep's fills, in price units; the name is historical), vwap in price units = sum(filled_value) / sum(filled_quantity)
--   over executed sweeps (= sum(vwap x q) / sum(q): volume-weighted over all fills, integer sums,
--   so a rebuild is bit-identical). Means ignore NULL metrics; a mean of nothing is NULL, never 0.
CREATE OR REPLACE TABLE {{ table | ident }} AS
SELECT
{% for key in keys %}
    {{ key | ident }},
{% endfor %}
    count(*) FILTER (WHERE kind = 'order') AS cp_orders,
    count(*) FILTER (WHERE kind = 'sweep') AS sweeps,
    count(*) FILTER (WHERE kind = 'sweep' AND group_id = 1) AS g1_sweeps,
    count(*) FILTER (WHERE kind = 'sweep' AND group_id = 2) AS g2_sweeps,
    count(*) FILTER (WHERE kind = 'sweep' AND group_id = 3) AS g3_sweeps,
    count(*) FILTER (WHERE kind = 'sweep' AND qualifying) AS qualifying_sweeps,
    coalesce(sum(filled_quantity) FILTER (WHERE kind = 'sweep'), 0)::BIGINT AS filled_quantity,
    (coalesce(sum(filled_value) FILTER (WHERE kind = 'sweep'), 0) / {{ price_scale | ints }}.0)::DOUBLE
        AS filled_value_aud,
    (sum(filled_value) FILTER (WHERE kind = 'sweep' AND filled_value IS NOT NULL)
        / nullif(sum(filled_quantity) FILTER (WHERE kind = 'sweep' AND filled_value IS NOT NULL), 0))::DOUBLE
        AS vwap,
    avg(arrival_cost_bps) FILTER (WHERE kind = 'sweep') AS mean_arrival_cost_bps,
    avg(vw_cost_bps) FILTER (WHERE kind = 'sweep') AS mean_vw_cost_bps,
    avg(fill_ratio) FILTER (WHERE kind = 'sweep') AS mean_fill_ratio,
    avg(time_to_first_fill_s) FILTER (WHERE kind = 'sweep') AS mean_time_to_first_fill_s,
    coalesce(sum(offered_quantity) FILTER (WHERE kind = 'dark'), 0)::BIGINT
        AS sim_offered_quantity,
    coalesce(sum(matched_quantity) FILTER (WHERE kind = 'dark'), 0)::BIGINT
        AS sim_matched_quantity,
    avg(sim_fill_ratio) FILTER (WHERE kind = 'dark') AS mean_sim_fill_ratio,
    count(*) FILTER (WHERE kind = 'dark' AND set_label = 'A') AS set_a_sweeps,
    count(*) FILTER (WHERE kind = 'dark' AND set_label = 'B') AS set_b_sweeps
{% for s in scenarios %}
    , avg(savings_bps) FILTER (WHERE kind = 'scenario' AND scenario = ${{ s.param }})
        AS {{ s.column | ident }}
{% endfor %}
FROM agg_facts
{% if keys %}
GROUP BY {% for key in keys %}{{ key | ident }}{{ ", " if not loop.last }}{% endfor %}

ORDER BY {% for key in keys %}{{ key | ident }}{{ ", " if not loop.last }}{% endfor %}
{% endif %}
;
