-- step 3: order states (arrival, post-entry, final) per Centre Point order and unit
-- grain: order x unit | reads: a_cp_orders, a_quotes | writes: temp a_order_states
-- parameters: :bucket_lo BIGINT[], :bucket_hi BIGINT[], :bucket_label VARCHAR[], :bucket_idx INTEGER[]
--             (from size_buckets, default [100, 1000, 10000]: '<100','100-999','1000-9999','>=10000')
-- profile: bits.sweep (the sweep bit of exchangeordertype)
-- SPEC §5.2: the states are chosen row-level in 020 (arrival = first event by (timestamp, seq);
-- post-entry = LAST event sharing the arrival timestamp; final = last event). Type comes from the
-- final event (§3), side/limit/participant from the arrival event.
-- §5.4: arrival mid/spread from the arrival event's national_bid/offer when valid, else the mid
-- at arrival time (ASOF over valid quotes). §5.7: arrival hour (local time) and size bucket (arrival qty).
CREATE OR REPLACE TEMP TABLE a_order_states AS
WITH st AS (
    SELECT * EXCLUDE (changereasons) FROM a_cp_orders
), buckets AS (
    SELECT unnest($bucket_lo::BIGINT[]) AS lo, unnest($bucket_hi::BIGINT[]) AS hi,
           unnest($bucket_label::VARCHAR[]) AS label, unnest($bucket_idx::INTEGER[]) AS idx
), with_mid AS (
    SELECT st.*, q.mid AS nbbo_arrival_mid, q.spread AS nbbo_arrival_spread
    FROM st ASOF LEFT JOIN a_quotes q
      ON q.security_code = st.security_code AND q.date = st.date AND st.arrival_ts >= q.timestamp
)
SELECT m.security_code, m.date, m.order_id, m.side, m.exchangeordertype,
       (m.exchangeordertype & {{ bits.sweep | ints }}) != 0 AS is_sweep,
       m.participantid, m.events, m.arrival_ts, m.arrival_seq, m.post_entry_ts, m.post_entry_seq,
       m.final_ts, m.final_seq, m.arrival_price, m.arrival_quantity, m.arrival_leaves,
       m.post_entry_leaves, m.post_entry_tmq, m.final_price, m.final_quantity, m.final_leaves,
       m.final_tmq, m.final_orderstatus, m.final_changereason, m.has_new_event,
       m.nb AS arrival_national_bid, m.no AS arrival_national_offer,
       CASE WHEN m.nb > 0 AND m.no > m.nb THEN (m.nb + m.no) / 2.0 ELSE m.nbbo_arrival_mid END AS arrival_mid,
       CASE WHEN m.nb > 0 AND m.no > m.nb THEN (m.no - m.nb)::DOUBLE ELSE m.nbbo_arrival_spread END AS arrival_spread,
       CASE WHEN m.nb > 0 AND m.no > m.nb THEN 'national'
            WHEN m.nbbo_arrival_mid IS NOT NULL THEN 'nbbo' END AS arrival_mid_source,
       m.nbbo_arrival_mid,
       hour(dp_local(m.arrival_ts))::INTEGER AS arrival_hour,
       b.label AS size_bucket, b.idx AS size_bucket_idx
FROM with_mid m
LEFT JOIN buckets b ON (b.lo IS NULL OR m.arrival_quantity >= b.lo) AND (b.hi IS NULL OR m.arrival_quantity < b.hi);
