-- Step: partial aggregates, facts (SPEC §5.9): the sums every agg_*/ts_* table combines.
-- Grain: one row per unit x grain x key value x scenario (see ddl.sql); GROUPING SETS build the
--   four grains of a unit in one pass over each kind of row.
-- Reads: _partial_build (the units to build), order_states, sweeps, dark_sweeps, scenario_costs
--   (by name: tables or views). Writes: agg_partials_facts (appends; the caller deleted the old rows).
-- Bound params: $lo, $hi (the dates of the units to build: lets a partitioned result view prune).
-- Dark-simulation and scenario rows take their key columns from their sweep.
-- Each kind of row (Centre Point order, sweep, simulated dark sweep, scenario) is aggregated on
-- its own, with only its own measures, and the few resulting rows are summed per group: one
-- pass over all rows with every measure FILTERed by kind took ~3x as long (four grouping sets
-- x ~30 filtered aggregates x every row; BENCHMARKS.md). Counts absent from a group are 0, sums
-- NULL, as a FILTERed count and sum give.
{# A mean's partial: the sum of a metric and the count of its non-null values. #}
{% macro sum_and_n(value, name) -%}
sum({{ value }}) AS {{ name }}_sum, count({{ value }}) AS {{ name }}_n
{%- endmacro %}
{% macro grain() -%}
CASE WHEN grouping(participantid) = 0 THEN 'participant'
            WHEN grouping(arrival_hour) = 0 THEN 'hour'
            WHEN grouping(size_bucket_idx) = 0 THEN 'size' ELSE 'unit' END AS grain,
       participantid, arrival_hour, size_bucket_idx, size_bucket
{%- endmacro %}
{% macro grains(extra='') -%}
GROUP BY GROUPING SETS (
    (security_code, date{{ extra }}),
    (security_code, date, participantid{{ extra }}),
    (security_code, date, arrival_hour{{ extra }}),
    (security_code, date, size_bucket_idx, size_bucket{{ extra }})
)
{%- endmacro %}
INSERT INTO agg_partials_facts BY NAME
WITH b AS (
    SELECT security_code, date FROM _partial_build
),
sw AS (
    SELECT * FROM sweeps SEMI JOIN b USING (security_code, date) WHERE date BETWEEN $lo AND $hi
),
dk AS (
    SELECT sw.security_code, sw.date, sw.participantid, sw.arrival_hour, sw.size_bucket, sw.size_bucket_idx,
           d.offered_quantity, d.matched_quantity, d.sim_fill_ratio, d.set_label
    FROM dark_sweeps d JOIN sw USING (security_code, date, order_id)
    WHERE d.date BETWEEN $lo AND $hi
),
sc AS (
    SELECT sw.security_code, sw.date, sw.participantid, sw.arrival_hour, sw.size_bucket, sw.size_bucket_idx,
           c.scenario, c.savings_bps
    FROM scenario_costs c JOIN sw USING (security_code, date, order_id)
    WHERE c.date BETWEEN $lo AND $hi
),
parts AS (
    SELECT security_code, date, {{ grain() }}, count(*) AS cp_orders
    FROM order_states SEMI JOIN b USING (security_code, date) WHERE date BETWEEN $lo AND $hi
    {{ grains() }}
    UNION ALL BY NAME
    SELECT security_code, date, {{ grain() }},
           count(*) AS sweeps,
           count(*) FILTER (WHERE group_id = 1) AS g1_sweeps,
           count(*) FILTER (WHERE group_id = 2) AS g2_sweeps,
           count(*) FILTER (WHERE group_id = 3) AS g3_sweeps,
           count(*) FILTER (WHERE qualifying) AS qualifying_sweeps,
           sum(filled_quantity) AS filled_quantity,
           sum(filled_value) AS filled_value,
           sum(filled_value) FILTER (WHERE filled_value IS NOT NULL) AS vw_value,
           sum(filled_quantity) FILTER (WHERE filled_value IS NOT NULL) AS vw_quantity,
           {{ sum_and_n('arrival_cost_bps', 'arrival_cost') }},
           {{ sum_and_n('vw_cost_bps', 'vw_cost') }},
           {{ sum_and_n('fill_ratio', 'fill_ratio') }},
           {{ sum_and_n('time_to_first_fill_s', 'ttff') }}
    FROM sw
    {{ grains() }}
    UNION ALL BY NAME
    SELECT security_code, date, {{ grain() }},
           sum(offered_quantity) AS sim_offered_quantity,
           sum(matched_quantity) AS sim_matched_quantity,
           {{ sum_and_n('sim_fill_ratio', 'sim_fill_ratio') }},
           count(*) FILTER (WHERE set_label = 'A') AS set_a_sweeps,
           count(*) FILTER (WHERE set_label = 'B') AS set_b_sweeps
    FROM dk
    {{ grains() }}
    UNION ALL BY NAME
    SELECT security_code, date, {{ grain() }}, scenario,
           {{ sum_and_n('savings_bps', 'savings') }}
    FROM sc
    {{ grains(', scenario') }}
)
SELECT security_code, date, grain, participantid, arrival_hour, size_bucket_idx, size_bucket, scenario,
       coalesce(sum(cp_orders), 0) AS cp_orders, coalesce(sum(sweeps), 0) AS sweeps,
       coalesce(sum(g1_sweeps), 0) AS g1_sweeps, coalesce(sum(g2_sweeps), 0) AS g2_sweeps,
       coalesce(sum(g3_sweeps), 0) AS g3_sweeps, coalesce(sum(qualifying_sweeps), 0) AS qualifying_sweeps,
       sum(filled_quantity) AS filled_quantity, sum(filled_value) AS filled_value,
       sum(vw_value) AS vw_value, sum(vw_quantity) AS vw_quantity,
       sum(arrival_cost_sum) AS arrival_cost_sum, coalesce(sum(arrival_cost_n), 0) AS arrival_cost_n,
       sum(vw_cost_sum) AS vw_cost_sum, coalesce(sum(vw_cost_n), 0) AS vw_cost_n,
       sum(fill_ratio_sum) AS fill_ratio_sum, coalesce(sum(fill_ratio_n), 0) AS fill_ratio_n,
       sum(ttff_sum) AS ttff_sum, coalesce(sum(ttff_n), 0) AS ttff_n,
       sum(sim_offered_quantity) AS sim_offered_quantity, sum(sim_matched_quantity) AS sim_matched_quantity,
       sum(sim_fill_ratio_sum) AS sim_fill_ratio_sum, coalesce(sum(sim_fill_ratio_n), 0) AS sim_fill_ratio_n,
       coalesce(sum(set_a_sweeps), 0) AS set_a_sweeps, coalesce(sum(set_b_sweeps), 0) AS set_b_sweeps,
       sum(savings_sum) AS savings_sum, coalesce(sum(savings_n), 0) AS savings_n
FROM parts
GROUP BY security_code, date, grain, participantid, arrival_hour, size_bucket_idx, size_bucket, scenario;
