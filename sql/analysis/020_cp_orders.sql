-- step 2: Centre Point orders of the batch units, with their arrival, post-entry and final rows
-- grain: order x unit | reads: orders, a_units | writes: temp a_cp_orders
-- parameters: :read_dates DATE[], :unit_securities INTEGER[],
--             :day_rollover TIME (default None = off: business date = Sydney date of timestamp),
--             :sw_start/:sw_end TIME (session_window, default None = off; end exclusive),
--             :participants BIGINT[] (default [] = all)
-- SPEC §5.1 (bit tests 64|256|2048|4096; the final event in the unit decides the type; filters
-- on arrival time and participant), §5.2 (states), §3 (ordering key (timestamp, seq); business date).
-- One hash aggregation over the unit's events, no window sort: each state is ONE row chosen by
-- arg_min/arg_max of a struct of its columns over a struct key (row-level, never per column):
--   arrival    = min (timestamp, seq)  seq NULLS LAST
--   post-entry = min (timestamp, -seq) = the last event sharing the arrival timestamp, seq NULLS LAST
--   final      = max (timestamp, seq)  seq NULLS LAST (a NULL seq loses to any seq)
CREATE OR REPLACE TEMP TABLE a_cp_orders AS
WITH src AS (
    SELECT o.order_id, o.security_code,
{% if day_rollover %}
           CASE WHEN dp_local(o.timestamp)::TIME >= $day_rollover::TIME
                THEN dp_local(o.timestamp)::DATE + 1 ELSE dp_local(o.timestamp)::DATE END AS date,
{% else %}
           o.date,
{% endif %}
           o.timestamp, o.seq, o.side, o.price, o.quantity, o.leavesquantity,
           o.totalmatchedquantity, o.orderstatus, o.changereason, o.exchangeordertype,
           o.national_bid, o.national_offer, o.participantid
    FROM orders o
    WHERE list_contains($read_dates::DATE[], o.date)
      AND list_contains($unit_securities::INTEGER[], o.security_code)
), g AS (
    SELECT e.security_code, e.date, e.order_id,
           arg_min({'side': e.side, 'participantid': e.participantid, 'ts': e.timestamp, 'seq': e.seq,
                    'price': e.price, 'quantity': e.quantity, 'leaves': e.leavesquantity,
                    'nb': e.national_bid, 'no': e.national_offer},
                   {'ts': e.timestamp, 'nul': e.seq IS NULL, 'seq': e.seq}) AS a,
           arg_min({'ts': e.timestamp, 'seq': e.seq, 'leaves': e.leavesquantity,
                    'tmq': e.totalmatchedquantity},
                   {'ts': e.timestamp, 'nul': e.seq IS NULL, 'neg': -e.seq}) AS p,
           arg_max({'type': e.exchangeordertype, 'ts': e.timestamp, 'seq': e.seq, 'price': e.price,
                    'quantity': e.quantity, 'leaves': e.leavesquantity, 'tmq': e.totalmatchedquantity,
                    'status': e.orderstatus, 'cr': e.changereason},
                   {'ts': e.timestamp, 'nn': e.seq IS NOT NULL, 'seq': e.seq}) AS f,
           count(*)::INTEGER AS events,
           coalesce(bool_or(e.changereason = 6), false) AS has_new_event,
           count(e.changereason) AS changereasons
    FROM src e JOIN a_units u ON u.security_code = e.security_code AND u.date = e.date
    GROUP BY e.security_code, e.date, e.order_id
)
SELECT security_code, date, order_id, f.type AS exchangeordertype, a.side, a.participantid, events,
       a.ts AS arrival_ts, a.seq AS arrival_seq, p.ts AS post_entry_ts, p.seq AS post_entry_seq,
       f.ts AS final_ts, f.seq AS final_seq, a.price AS arrival_price, a.quantity AS arrival_quantity,
       a.leaves AS arrival_leaves, p.leaves AS post_entry_leaves, p.tmq AS post_entry_tmq,
       f.price AS final_price, f.quantity AS final_quantity, f.leaves AS final_leaves,
       f.tmq AS final_tmq, f.status AS final_orderstatus, f.cr AS final_changereason,
       has_new_event, a.nb, a.no, changereasons
FROM g
WHERE (f.type & (64 | 256 | 2048 | 4096)) != 0
{% if session_window %}
  AND dp_local(a.ts)::TIME >= $sw_start::TIME AND dp_local(a.ts)::TIME < $sw_end::TIME
{% endif %}
{% if participants %}
  AND list_contains($participants::BIGINT[], a.participantid)
{% endif %}
;
