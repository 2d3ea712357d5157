-- step 4: the fills (trade rows) of each sweep, with the mid to measure each fill against
-- grain: fill | reads: trades, a_order_states, a_quotes | writes: temp a_fills
-- parameters: :read_dates DATE[], :unit_securities INTEGER[], :day_rollover TIME (default None = off)
-- profile: venues.trade_report (dealsource codes of trade reports)
-- SPEC §5.4: a sweep's trades are the rows with its order id, the unit's security and the unit's
-- date; a trade report carries the same orderid on both rows of its match group:
-- counted once (one row per orderid x matchgroupid). mid_i = the trade's national snapshot when
-- valid (0 < bid < offer), else the mid at the trade time (§3 ASOF over valid quotes).
{% from 'analysis/_business_date.sql' import business_date with context %}
CREATE OR REPLACE TEMP TABLE a_fills AS
WITH sw AS (
    SELECT security_code, date, order_id FROM a_order_states WHERE is_sweep
), tr AS (
    SELECT t.security_code,
           {{ business_date('t', 'tradetime') }} AS date,
           t.orderid, t.matchgroupid, t.sequence, t.row_num, t.tradetime, t.dealsource,
           t.tradeprice, t.quantity, t.nationalbidpricesnapshot AS snb, t.nationalofferpricesnapshot AS sno
    FROM trades t
    WHERE list_contains($read_dates::DATE[], t.date)
      AND list_contains($unit_securities::INTEGER[], t.security_code)
), mine AS (
    SELECT tr.* FROM tr SEMI JOIN sw
      ON sw.security_code = tr.security_code AND sw.date = tr.date AND sw.order_id = tr.orderid
    QUALIFY coalesce(tr.dealsource NOT IN ({{ venues.trade_report | ints }}), true)
         OR row_number() OVER (PARTITION BY tr.security_code, tr.date, tr.orderid, tr.matchgroupid
                               ORDER BY tr.sequence NULLS LAST, tr.row_num NULLS LAST) = 1
)
SELECT f.security_code, f.date, f.orderid AS order_id, f.tradetime, f.sequence, f.matchgroupid,
       f.dealsource, f.tradeprice, f.quantity,
       CASE WHEN f.snb > 0 AND f.sno > f.snb THEN (f.snb + f.sno) / 2.0 ELSE q.mid END AS mid
FROM mine f ASOF LEFT JOIN a_quotes q
  ON q.security_code = f.security_code AND q.date = f.date AND f.tradetime >= q.timestamp;
