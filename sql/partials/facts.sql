-- Step: partial aggregates, facts (SPEC §5.9): the sums every agg_*/ts_* table combines.
-- Grain: one row per unit x grain x key value x scenario (see ddl.sql); GROUPING SETS build the
--   four grains of a unit in one pass.
-- Reads: _partial_build (the units to build), order_states, sweeps, dark_sweeps, scenario_costs
--   (by name: tables or views). Writes: agg_partials_facts (appends; the caller deleted the old rows).
-- Bound params: $lo, $hi (the dates of the units to build: lets a partitioned result view prune).
-- Dark-simulation and scenario rows take their key columns from their sweep (as before).
{# A mean's partial: the sum of a metric and the count of its non-null values, over one kind of row. #}
{% macro sum_and_n(value, kind, name) -%}
sum({{ value }}) FILTER (WHERE kind = '{{ kind }}') AS {{ name }}_sum,
       count({{ value }}) FILTER (WHERE kind = '{{ kind }}') AS {{ name }}_n
{%- endmacro %}
INSERT INTO agg_partials_facts BY NAME
WITH b AS (
    SELECT security_code, date FROM _partial_build
),
sw AS (
    SELECT * FROM sweeps SEMI JOIN b USING (security_code, date) WHERE date BETWEEN $lo AND $hi
),
facts AS (
    SELECT security_code, date, participantid, arrival_hour, size_bucket, size_bucket_idx,
           'order' AS kind
    FROM order_states SEMI JOIN b USING (security_code, date) WHERE date BETWEEN $lo AND $hi
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
    WHERE d.date BETWEEN $lo AND $hi
    UNION ALL BY NAME
    SELECT sw.security_code, sw.date, sw.participantid, sw.arrival_hour, sw.size_bucket,
           sw.size_bucket_idx, 'scenario' AS kind, c.scenario, c.savings_bps
    FROM scenario_costs c JOIN sw USING (security_code, date, order_id)
    WHERE c.date BETWEEN $lo AND $hi
)
SELECT security_code, date,
       CASE WHEN grouping(participantid) = 0 THEN 'participant'
            WHEN grouping(arrival_hour) = 0 THEN 'hour'
            WHEN grouping(size_bucket_idx) = 0 THEN 'size' ELSE 'unit' END AS grain,
       participantid, arrival_hour, size_bucket_idx, size_bucket, scenario,
       count(*) FILTER (WHERE kind = 'order') AS cp_orders,
       count(*) FILTER (WHERE kind = 'sweep') AS sweeps,
       count(*) FILTER (WHERE kind = 'sweep' AND group_id = 1) AS g1_sweeps,
       count(*) FILTER (WHERE kind = 'sweep' AND group_id = 2) AS g2_sweeps,
       count(*) FILTER (WHERE kind = 'sweep' AND group_id = 3) AS g3_sweeps,
       count(*) FILTER (WHERE kind = 'sweep' AND qualifying) AS qualifying_sweeps,
       sum(filled_quantity) FILTER (WHERE kind = 'sweep') AS filled_quantity,
       sum(filled_value) FILTER (WHERE kind = 'sweep') AS filled_value,
       sum(filled_value) FILTER (WHERE kind = 'sweep' AND filled_value IS NOT NULL) AS vw_value,
       sum(filled_quantity) FILTER (WHERE kind = 'sweep' AND filled_value IS NOT NULL) AS vw_quantity,
       {{ sum_and_n('arrival_cost_bps', 'sweep', 'arrival_cost') }},
       {{ sum_and_n('vw_cost_bps', 'sweep', 'vw_cost') }},
       {{ sum_and_n('fill_ratio', 'sweep', 'fill_ratio') }},
       {{ sum_and_n('time_to_first_fill_s', 'sweep', 'ttff') }},
       sum(offered_quantity) FILTER (WHERE kind = 'dark') AS sim_offered_quantity,
       sum(matched_quantity) FILTER (WHERE kind = 'dark') AS sim_matched_quantity,
       {{ sum_and_n('sim_fill_ratio', 'dark', 'sim_fill_ratio') }},
       count(*) FILTER (WHERE kind = 'dark' AND set_label = 'A') AS set_a_sweeps,
       count(*) FILTER (WHERE kind = 'dark' AND set_label = 'B') AS set_b_sweeps,
       {{ sum_and_n('savings_bps', 'scenario', 'savings') }}
FROM facts
GROUP BY GROUPING SETS (
    (security_code, date, scenario),
    (security_code, date, participantid, scenario),
    (security_code, date, arrival_hour, scenario),
    (security_code, date, size_bucket_idx, size_bucket, scenario)
);
