-- step 8: dark-book simulation results and the real-versus-simulated comparison
-- grain: simulated match; qualifying sweep | reads: sim_matches_arrow, sim_outcomes_arrow (registered
-- by duckpipe/simulate.py), a_sim_units, a_sweeps | writes: temp a_dark_matches, a_dark_sweeps
-- parameters: none
-- SPEC §5.6: sim VWAP over priced matches only (NULL-price matches are counted, not priced);
-- fill ratio = matched / offered; time to first fill = first match_ts - arrival; VWTE = sum q
-- max(0, match_ts - arrival) / matched; set A = >= 1 match, else B with the simulator's reason.
CREATE OR REPLACE TEMP TABLE a_dark_matches AS
SELECT u.security_code, u.date, m.sweep_order_id, m.contra_order_id, m.match_no, m.match_ts,
       m.quantity, m.price, s.side AS sweep_side
FROM sim_matches_arrow m
JOIN a_sim_units u ON u.unit_idx = m.unit_idx
JOIN a_sweeps s ON s.security_code = u.security_code AND s.date = u.date AND s.order_id = m.sweep_order_id;

CREATE OR REPLACE TEMP TABLE a_dark_sweeps AS
WITH agg AS (
    SELECT m.security_code, m.date, m.sweep_order_id AS order_id,
           sum(m.quantity) AS matched, count(*) AS n, count(m.price) AS n_priced,
           sum(m.quantity * m.price) FILTER (WHERE m.price IS NOT NULL)
             / NULLIF(sum(m.quantity) FILTER (WHERE m.price IS NOT NULL), 0) AS sim_vwap,
           min(m.match_ts) AS first_ts,
           sum(m.quantity * greatest(0, m.match_ts - s.arrival_ts) / 1e9) AS qt
    FROM a_dark_matches m
    JOIN a_sweeps s ON s.security_code = m.security_code AND s.date = m.date AND s.order_id = m.sweep_order_id
    GROUP BY m.security_code, m.date, m.sweep_order_id
)
SELECT s.security_code, s.date, s.order_id, s.side, s.participantid, s.arrival_hour,
       s.size_bucket, s.size_bucket_idx, o.placement_no, s.arrival_ts AS window_start_ts,
       s.last_fill_ts AS window_end_ts, o.offered AS offered_quantity,
       coalesce(a.matched, 0)::BIGINT AS matched_quantity, coalesce(a.n, 0)::INTEGER AS matches,
       coalesce(a.n_priced, 0)::INTEGER AS priced_matches,
       (coalesce(a.n, 0) - coalesce(a.n_priced, 0))::INTEGER AS unpriced_matches,
       a.sim_vwap, coalesce(a.matched, 0) / NULLIF(o.offered, 0)::DOUBLE AS sim_fill_ratio,
       (a.first_ts - s.arrival_ts) / 1e9 AS sim_time_to_first_fill_s,
       a.qt / NULLIF(a.matched, 0) AS sim_vwte_s,
       CASE WHEN coalesce(a.n, 0) > 0 THEN 'A' ELSE 'B' END AS set_label,
       CASE WHEN coalesce(a.n, 0) = 0 THEN o.reason END AS reason,
       s.arrival_mid,
       1e4 * (CASE s.side WHEN 1 THEN 1 WHEN 2 THEN -1 END) * (a.sim_vwap - s.arrival_mid) / s.arrival_mid
           AS sim_arrival_cost_bps,
       s.filled_quantity AS real_filled_quantity, s.fills AS real_fills, s.fill_ratio AS real_fill_ratio,
       s.vwap AS real_vwap, s.arrival_cost_bps AS real_arrival_cost_bps,
       s.time_to_first_fill_s AS real_time_to_first_fill_s, s.vwte_s AS real_vwte_s
FROM sim_outcomes_arrow o
JOIN a_sim_units u ON u.unit_idx = o.unit_idx
JOIN a_sweeps s ON s.security_code = u.security_code AND s.date = u.date AND s.order_id = o.order_id
LEFT JOIN agg a ON a.security_code = s.security_code AND a.date = s.date AND a.order_id = s.order_id;
