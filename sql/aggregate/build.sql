-- Step: aggregates (SPEC §5.9), one template for every grouping.
-- Grain: one row per value of {{ keys | join(', ') or 'nothing (one global row)' }}.
-- Reads: units (status 'done' only), order_states, sweeps, dark_sweeps, scenario_costs.
-- Writes: {{ table }} (CREATE OR REPLACE: the caller's transaction swaps it in atomically).
-- Jinja params: table (identifier), keys (key columns from duckpipe.aggregate.AGGREGATES),
--   scenarios (list of {column, param}: one savings column per scenario of settings.scenarios).
-- Bound params: $scenario_<i> (scenario names).
-- Units: filled_value_aud = sum(filled_value) / 1000 (filled_value = sum p x q of a sweep's fills,
--   prices in tenths of a cent), vwap in price units = sum(filled_value) / sum(filled_quantity)
--   over executed sweeps (= sum(vwap x q) / sum(q): volume-weighted over all fills; integer sums,
--   so a rebuild is bit-identical). Means ignore NULL metrics; a mean of nothing is NULL, never 0.
-- Dark-simulation and scenario rows take their key columns from their sweep.
CREATE OR REPLACE TABLE {{ table | ident }} AS
WITH done AS (
    SELECT security_code, date FROM units WHERE status = 'done'
),
sw AS (
    SELECT * FROM sweeps SEMI JOIN done USING (security_code, date)
),
facts AS (
    SELECT security_code, date, participantid, arrival_hour, size_bucket, size_bucket_idx,
           'order' AS kind
    FROM order_states SEMI JOIN done USING (security_code, date)
    UNION ALL BY NAME
    SELECT security_code, date, participantid, arrival_hour, size_bucket, size_bucket_idx,
           'sweep' AS kind,
           group_id, qualifying, filled_quantity, filled_value, arrival_cost_bps, vw_cost_bps,
           fill_ratio, time_to_first_fill_s
    FROM sw
    UNION ALL BY NAME
    SELECT sw.security_code, sw.date, sw.participantid, sw.arrival_hour, sw.size_bucket,
           sw.size_bucket_idx, 'dark' AS kind, d.offered_quantity, d.matched_quantity,
           d.sim_fill_ratio, d.set_label
    FROM dark_sweeps d JOIN sw USING (security_code, date, order_id)
    UNION ALL BY NAME
    SELECT sw.security_code, sw.date, sw.participantid, sw.arrival_hour, sw.size_bucket,
           sw.size_bucket_idx, 'scenario' AS kind, c.scenario, c.savings_bps
    FROM scenario_costs c JOIN sw USING (security_code, date, order_id)
)
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
    (coalesce(sum(filled_value) FILTER (WHERE kind = 'sweep'), 0) / 1000.0)::DOUBLE
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
FROM facts
{% if keys %}
GROUP BY {% for key in keys %}{{ key | ident }}{{ ", " if not loop.last }}{% endfor %}

ORDER BY {% for key in keys %}{{ key | ident }}{{ ", " if not loop.last }}{% endfor %}
{% endif %}
;
