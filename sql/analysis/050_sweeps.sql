-- step 5: sweep orders: group, venue mix, qualification and execution metrics
-- grain: sweep order x unit | reads: a_order_states, a_fills, a_cp_orders | writes: temp a_sweeps
-- parameters: :qualifying_dealsources INTEGER[] (default: the profile's)
-- profile: venues (dealsource codes per venue class), cr.new, cr_labels (changereason -> label)
-- SPEC §5.3: on the final state G1 leaves=0 & tmq>0, G2 leaves>0 & tmq>0, G3 tmq=0 (sub-labelled
-- by the final changereason). Qualifying: G1, >=1 trade, every trade's dealsource qualifying and,
-- when the unit's data carry changereason at all, a "new" changereason event.
-- §5.4 metrics; s = +1 buy / -1 sell; anything uncomputable is NULL (NULLIF, never 0).
-- §5.7: time in book and limit distance from the arrival mid (for the G3 view).
CREATE OR REPLACE TEMP TABLE a_sweeps AS
WITH unit_cr AS (
    SELECT security_code, date, sum(changereasons) > 0 AS has_cr
    FROM a_cp_orders GROUP BY security_code, date
), sw AS (
    SELECT s.*, CASE s.side WHEN 1 THEN 1 WHEN 2 THEN -1 END AS sgn
    FROM a_order_states s WHERE s.is_sweep
), agg AS (
    SELECT f.security_code, f.date, f.order_id,
           sum(f.quantity) AS q, count(*) AS n, sum(f.tradeprice * f.quantity) AS pq,
           min(f.tradetime) AS t_first, max(f.tradetime) AS t_last,
           sum(f.quantity * greatest(0, f.tradetime - sw.arrival_ts) / 1e9) AS qt,
           sum(f.quantity * sw.sgn * (f.tradeprice - f.mid) / f.mid) FILTER (WHERE f.mid IS NOT NULL) AS vw_num,
           sum(f.quantity) FILTER (WHERE f.mid IS NOT NULL) AS vw_q,
           bool_and(coalesce(list_contains($qualifying_dealsources::INTEGER[], f.dealsource), false)) AS all_q,
           coalesce(sum(f.quantity) FILTER (WHERE f.dealsource IN ({{ venues.centre_point | ints }})), 0) AS v_cp,
           coalesce(sum(f.quantity) FILTER (WHERE f.dealsource IN ({{ venues.lit | ints }})), 0) AS v_lit,
           coalesce(sum(f.quantity) FILTER (WHERE f.dealsource IN ({{ venues.auction | ints }})), 0) AS v_auction,
           coalesce(sum(f.quantity) FILTER (WHERE f.dealsource IN ({{ venues.trade_report | ints }})), 0) AS v_tr
    FROM a_fills f JOIN sw ON sw.security_code = f.security_code AND sw.date = f.date AND sw.order_id = f.order_id
    GROUP BY f.security_code, f.date, f.order_id
), m AS (
    SELECT sw.*, a.*  EXCLUDE (security_code, date, order_id),
           CASE WHEN sw.final_tmq > 0 AND sw.final_leaves = 0 THEN 1
                WHEN sw.final_tmq > 0 AND sw.final_leaves > 0 THEN 2
                WHEN sw.final_tmq = 0 THEN 3 END AS group_id,
           a.pq / NULLIF(a.q, 0) AS vwap_
    FROM sw LEFT JOIN agg a ON a.security_code = sw.security_code AND a.date = sw.date AND a.order_id = sw.order_id
)
SELECT m.security_code, m.date, m.order_id, m.side, m.exchangeordertype, m.participantid,
       m.group_id::INTEGER AS group_id,
       CASE WHEN m.group_id = 3 THEN m.final_changereason END AS g3_changereason,
       CASE WHEN m.group_id = 3 THEN CASE m.final_changereason
{% for code, label in cr_labels | dictsort %}
            WHEN {{ code | ints }} THEN {{ label | literal }}
{% endfor %}
            ELSE 'changereason_' || m.final_changereason END END AS g3_reason,
       (m.group_id = 1 AND coalesce(m.n, 0) >= 1 AND coalesce(m.all_q, false)
        AND (NOT coalesce(u.has_cr, false) OR m.has_new_event)) AS qualifying,
       m.has_new_event, m.arrival_ts, m.arrival_seq, m.post_entry_ts, m.post_entry_seq, m.final_ts,
       m.arrival_price, m.arrival_quantity, m.post_entry_leaves, m.final_leaves, m.final_tmq,
       coalesce(m.q, 0)::BIGINT AS filled_quantity, coalesce(m.n, 0)::INTEGER AS fills,
       m.pq::BIGINT AS filled_value,
       m.final_tmq / NULLIF(m.final_tmq + m.final_leaves, 0)::DOUBLE AS fill_ratio,
       m.vwap_ AS vwap, m.arrival_mid, m.arrival_spread, m.arrival_mid_source,
       1e4 * m.sgn * (m.vwap_ - m.arrival_mid) / m.arrival_mid AS arrival_cost_bps,
       1e4 * m.vw_num / NULLIF(m.vw_q, 0) AS vw_cost_bps,
       m.vw_q::BIGINT AS vw_cost_quantity,
       2 * abs(m.vwap_ - m.arrival_mid) AS effective_spread,
       100 * 2 * abs(m.vwap_ - m.arrival_mid) / NULLIF(m.arrival_spread, 0) AS effective_spread_pct,
       CASE WHEN m.arrival_price > 0 THEN 1e4 * m.sgn * (m.arrival_price - m.vwap_) / m.arrival_price END
           AS price_improvement_bps,
       m.t_first AS first_fill_ts, m.t_last AS last_fill_ts,
       (m.t_first - m.arrival_ts) / 1e9 AS time_to_first_fill_s,
       (m.t_last - m.t_first) / 1e9 AS first_to_last_fill_s,
       m.qt / NULLIF(m.q, 0) AS vwte_s,
       coalesce(m.v_cp, 0)::BIGINT AS cp_volume, coalesce(m.v_lit, 0)::BIGINT AS lit_volume,
       coalesce(m.v_auction, 0)::BIGINT AS auction_volume, coalesce(m.v_tr, 0)::BIGINT AS trade_report_volume,
       (coalesce(m.q, 0) - coalesce(m.v_cp, 0) - coalesce(m.v_lit, 0) - coalesce(m.v_auction, 0)
        - coalesce(m.v_tr, 0))::BIGINT AS other_volume,
       (m.final_ts - m.arrival_ts) / 1e9 AS time_in_book_s,
       CASE WHEN m.arrival_price > 0 THEN 1e4 * m.sgn * (m.arrival_price - m.arrival_mid) / m.arrival_mid END
           AS limit_distance_bps,
       m.arrival_hour, m.size_bucket, m.size_bucket_idx
FROM m LEFT JOIN unit_cr u ON u.security_code = m.security_code AND u.date = m.date;
