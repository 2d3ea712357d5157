-- step 7: inputs of the dark-book simulation (the sequential pass runs in duckpipe/simulate.py)
-- grain: unit (one row per sweep to simulate / per contra) | reads: a_sweeps, a_order_states, a_units
-- writes: temp a_sim_sweeps, a_sim_contras | parameters: none
-- SPEC §5.6: sweeps = qualifying sweeps, placement order (post-entry ts, seq), offer = post-entry
-- leaves, window [first event time, last real trade time]; contra pool = arrival state of every
-- Centre Point order of the unit (sweeps included), priced at the mid at its arrival time (§3,
-- quotes only). unit_idx numbers the units so Python can split the arrays without a query per unit.
CREATE OR REPLACE TEMP TABLE a_sim_units AS
SELECT security_code, date, (row_number() OVER (ORDER BY date, security_code) - 1)::INTEGER AS unit_idx
FROM a_units;

CREATE OR REPLACE TEMP TABLE a_sim_sweeps AS
SELECT u.unit_idx, s.order_id, s.side, s.post_entry_ts, s.post_entry_seq,
       s.arrival_ts AS window_start, s.last_fill_ts AS window_end,
       coalesce(s.post_entry_leaves, 0) AS offered
FROM a_sweeps s JOIN a_sim_units u ON u.security_code = s.security_code AND u.date = s.date
WHERE s.qualifying;

CREATE OR REPLACE TEMP TABLE a_sim_contras AS
SELECT u.unit_idx, o.order_id, o.side, o.arrival_ts, o.arrival_seq,
       coalesce(o.arrival_quantity, 0) AS quantity, o.nbbo_arrival_mid AS mid
FROM a_order_states o JOIN a_sim_units u ON u.security_code = o.security_code AND u.date = o.date;
