-- step 2: Centre Point order events of the batch units, with their position in the order's life
-- grain: order event | reads: orders, a_units | writes: temp a_cp_events
-- parameters: :read_dates DATE[], :unit_securities INTEGER[],
--             :day_rollover TIME (default None = off: business date = Sydney date of timestamp),
--             :sw_start/:sw_end TIME (session_window, default None = off; end exclusive),
--             :participants BIGINT[] (default [] = all)
-- SPEC §5.1 (bit tests 64|256|2048|4096; the final event in the unit decides the type; filters
-- on arrival time and participant), §3 (ordering key (timestamp, seq); business date).
-- Only orders with a CP bit on some event are windowed at all (lit orders cost one scan).
CREATE OR REPLACE TEMP TABLE a_cp_events AS
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
), unit_src AS (
    SELECT s.* FROM src s JOIN a_units u ON u.security_code = s.security_code AND u.date = s.date
), candidates AS (
    SELECT DISTINCT security_code, date, order_id FROM unit_src
    WHERE (exchangeordertype & (64 | 256 | 2048 | 4096)) != 0
), ev AS (
    SELECT e.*,
           row_number() OVER (PARTITION BY e.security_code, e.date, e.order_id
                              ORDER BY e.timestamp, e.seq) AS rn,
           row_number() OVER (PARTITION BY e.security_code, e.date, e.order_id
                              ORDER BY e.timestamp DESC, e.seq DESC) AS rn_rev,
           min(e.timestamp) OVER (PARTITION BY e.security_code, e.date, e.order_id) AS first_ts,
           row_number() OVER (PARTITION BY e.security_code, e.date, e.order_id, e.timestamp
                              ORDER BY e.seq DESC) AS rn_in_ts_rev
    FROM unit_src e SEMI JOIN candidates c
      ON c.security_code = e.security_code AND c.date = e.date AND c.order_id = e.order_id
), kept AS (
    SELECT security_code, date, order_id,
           any_value(exchangeordertype) FILTER (WHERE rn_rev = 1) AS final_type,
           any_value(participantid) FILTER (WHERE rn = 1) AS arrival_participantid,
           min(timestamp) AS arrival_ts
    FROM ev GROUP BY security_code, date, order_id
)
SELECT ev.* EXCLUDE (rn_in_ts_rev, first_ts),
       (ev.timestamp = ev.first_ts AND ev.rn_in_ts_rev = 1) AS is_post_entry,
       k.final_type
FROM ev JOIN kept k
  ON k.security_code = ev.security_code AND k.date = ev.date AND k.order_id = ev.order_id
WHERE (k.final_type & (64 | 256 | 2048 | 4096)) != 0
{% if session_window %}
  AND dp_local(k.arrival_ts)::TIME >= $sw_start::TIME AND dp_local(k.arrival_ts)::TIME < $sw_end::TIME
{% endif %}
{% if participants %}
  AND list_contains($participants::BIGINT[], k.arrival_participantid)
{% endif %}
;
