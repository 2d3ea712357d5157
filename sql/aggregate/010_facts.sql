-- Step: aggregates, facts (SPEC §5.9): the rows every aggregate groups, built once per rebuild.
-- Grain: one row per Centre Point order ('order'), sweep ('sweep'), simulated qualifying sweep
--   ('dark') and executed sweep x scenario ('scenario'), each with the key columns security_code,
--   date, participantid, arrival_hour, size_bucket, size_bucket_idx.
-- Reads: units (status 'done' only), order_states, sweeps, dark_sweeps, scenario_costs.
-- Writes: TEMP agg_facts (dropped by duckpipe.aggregate after the last table).
-- Params: none. Dark-simulation and scenario rows take their key columns from their sweep.
CREATE OR REPLACE TEMP TABLE agg_facts AS
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
SELECT * FROM facts;
