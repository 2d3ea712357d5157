-- step 2: Centre Point orders of the batch units, with their arrival, post-entry and final rows
-- grain: order x unit | reads: orders, a_units | writes: temp a_cp_orders
-- parameters: :read_dates DATE[], :unit_securities INTEGER[],
--             :day_rollover TIME (default None = off: business date = local date of timestamp),
--             :sw_start/:sw_end TIME (session_window, default None = off; end exclusive),
--             :participants BIGINT[] (default [] = all)
-- profile: cp_mask (the Centre Point order type bits), cr.new (the changereason of a new order)
-- SPEC §5.1 (bit tests of the Centre Point bits; the final event in the unit decides the type; filters
-- on arrival time and participant), §5.2 (states), §3 (ordering key (timestamp, seq); business date).
-- One hash aggregation over the unit's events, no window sort: each state is ONE row chosen by
-- arg_min/arg_max of a struct of its columns (row-level, never per column) over a HUGEINT key
-- that orders like the tuple (a HUGEINT compares much faster than a struct key):
--   ts * 2^65 + (seq IS NULL) * 2^64 + (seq + 2^63)    arrival = min: (timestamp, seq NULLS LAST)
--   ts * 2^65 + (seq IS NULL) * 2^64 + (2^63 - 1 - seq) post-entry = min: the LAST event sharing
--                                                      the arrival timestamp (seq DESC NULLS LAST)
--   ts * 2^65 + (seq IS NOT NULL) * 2^64 + (seq + 2^63) final = max: (timestamp, seq NULLS LAST)
-- (|timestamp| < 2^62 ns, i.e. before 2116; a larger one overflows the HUGEINT: an error, not a
-- wrong answer).
{% from 'analysis/_business_date.sql' import business_date with context %}
CREATE OR REPLACE TEMP TABLE a_cp_orders AS
WITH src AS (
    SELECT o.order_id, o.security_code,
           {{ business_date('o', 'timestamp') }} AS date,
           o.timestamp, o.seq, o.side, o.price, o.quantity, o.leavesquantity,
           o.totalmatchedquantity, o.orderstatus, o.changereason, o.exchangeordertype,
           o.national_bid, o.national_offer, o.participantid
    FROM orders o
    WHERE list_contains($read_dates::DATE[], o.date)
      AND list_contains($unit_securities::INTEGER[], o.security_code)
), k AS (
    SELECT e.*, e.timestamp::HUGEINT * 36893488147419103232 AS k_ts,
           coalesce(e.seq::HUGEINT + 9223372036854775808, 0) AS k_up,
           coalesce(9223372036854775807 - e.seq::HUGEINT, 0) AS k_down,
           CASE WHEN e.seq IS NULL THEN 18446744073709551616 ELSE 0 END::HUGEINT AS k_null
    FROM src e JOIN a_units u ON u.security_code = e.security_code AND u.date = e.date
), g AS (
    SELECT security_code, date, order_id,
           arg_min({'side': side, 'participantid': participantid, 'ts': timestamp, 'seq': seq,
                    'price': price, 'quantity': quantity, 'leaves': leavesquantity,
                    'nb': national_bid, 'no': national_offer}, k_ts + k_null + k_up) AS a,
           arg_min({'ts': timestamp, 'seq': seq, 'leaves': leavesquantity, 'tmq': totalmatchedquantity},
                   k_ts + k_null + k_down) AS p,
           arg_max({'type': exchangeordertype, 'ts': timestamp, 'seq': seq, 'price': price,
                    'quantity': quantity, 'leaves': leavesquantity, 'tmq': totalmatchedquantity,
                    'status': orderstatus, 'cr': changereason},
                   k_ts + (18446744073709551616 - k_null) + k_up) AS f,
           count(*)::INTEGER AS events,
           coalesce(bool_or(changereason = {{ cr.new | ints }}), false) AS has_new_event,
           count(changereason) AS changereasons
    FROM k
    GROUP BY security_code, date, order_id
)
SELECT security_code, date, order_id, f.type AS exchangeordertype, a.side, a.participantid, events,
       a.ts AS arrival_ts, a.seq AS arrival_seq, p.ts AS post_entry_ts, p.seq AS post_entry_seq,
       f.ts AS final_ts, f.seq AS final_seq, a.price AS arrival_price, a.quantity AS arrival_quantity,
       a.leaves AS arrival_leaves, p.leaves AS post_entry_leaves, p.tmq AS post_entry_tmq,
       f.price AS final_price, f.quantity AS final_quantity, f.leaves AS final_leaves,
       f.tmq AS final_tmq, f.status AS final_orderstatus, f.cr AS final_changereason,
       has_new_event, a.nb, a.no, changereasons
FROM g
WHERE (f.type & {{ cp_mask | ints }}) != 0
{% if session_window %}
  AND dp_local(a.ts)::TIME >= $sw_start::TIME AND dp_local(a.ts)::TIME < $sw_end::TIME
{% endif %}
{% if participants %}
  AND list_contains($participants::BIGINT[], a.participantid)
{% endif %}
;
