-- step 11: liquidity per unit and venue class: effective, realized spread, price impact (after 10)
-- grain: unit x venue, plus a venue 'all' row per unit with trades or quotes | reads: trades,
-- a_units, a_quotes
-- writes: temp a_liquidity
-- parameters: :read_dates DATE[], :unit_securities INTEGER[], :day_rollover TIME (default None = off),
--             :liquidity_horizon_s INTEGER (H, default 300), :venue_code INTEGER[],
--             :venue_name VARCHAR[] (the profile's venue classes), :trade_report_codes INTEGER[]
-- SPEC §5.10: the unit's trades counted once per matchgroupid (a trade report once per (orderid,
-- matchgroupid)); the representative row is the aggressive one (passiveaggressive = 1) when there
-- is one, else the first by sequence (rows without one: by row_num, after); d = its side sign
-- (price, quantity, time and dealsource are the same on both rows of a match); signed measures skip
-- trades without an aggressive row. Per trade, bps of M(t): effective = 2 d (p - M(t)),
-- realized = 2 d (p - M(t + H)), impact = 2 d (M(t + H) - M(t)); volume-weighted over the signed
-- trades with M(t) present (then M(t + H) is present too: same date, later time).
-- Quoted spread: time-weighted 1e4 (offer - bid) / mid of the unit's valid quotes between its first
-- and last quote (each quote weighs until the next one), repeated on every row of the unit.
{% from 'analysis/_business_date.sql' import business_date with context %}
CREATE OR REPLACE TEMP TABLE a_liquidity AS
WITH vc AS (
    SELECT unnest($venue_code::INTEGER[]) AS dealsource, unnest($venue_name::VARCHAR[]) AS venue
), tr AS (
    SELECT t.security_code,
           {{ business_date('t', 'tradetime') }} AS date,
           t.orderid, t.matchgroupid, t.sequence, t.row_num, t.tradetime, t.dealsource,
           t.tradeprice, t.quantity, t.side, t.passiveaggressive
    FROM trades t
    WHERE list_contains($read_dates::DATE[], t.date)
      AND list_contains($unit_securities::INTEGER[], t.security_code)
), k AS (
    -- the representative row's key, smallest first: aggressive first, then the sequence; rows
    -- without one after, by row_num
    SELECT *, (CASE WHEN passiveaggressive = 1 THEN 0 ELSE 4 END
               + CASE WHEN sequence IS NULL THEN 2 ELSE 0 END)::HUGEINT * 18446744073709551616
              + coalesce(coalesce(sequence, row_num)::HUGEINT + 9223372036854775808, 0) AS k
    FROM tr SEMI JOIN a_units u USING (security_code, date)
), one AS (
    -- one row per trade: the representative row's fields, one hash aggregation instead of a sort:
    -- one arg_min_null per field (NULLs kept: the row's own value) costs ~20% less than one
    -- arg_min of a struct of them
    SELECT security_code, date,
           arg_min_null(tradetime, k) AS tradetime, arg_min_null(dealsource, k) AS dealsource,
           arg_min_null(tradeprice, k) AS tradeprice, arg_min_null(quantity, k) AS quantity,
           arg_min_null(CASE WHEN passiveaggressive = 1 THEN CASE side WHEN 1 THEN 1 WHEN 2 THEN -1 END END, k) AS d
    FROM k
    GROUP BY security_code, date, matchgroupid,
             CASE WHEN list_contains($trade_report_codes::INTEGER[], dealsource) THEN orderid END
), q AS (
    SELECT security_code, date, timestamp, mid FROM a_quotes
), m0 AS (
    SELECT o.security_code, o.date, o.tradetime, o.dealsource, o.tradeprice, o.quantity, o.d, q.mid AS mid_t,
           o.tradetime + $liquidity_horizon_s::BIGINT * 1000000000 AS t_h
    FROM one o ASOF LEFT JOIN q
      ON q.security_code = o.security_code AND q.date = o.date AND o.tradetime >= q.timestamp
), s AS (
    SELECT m.security_code, m.date, coalesce(vc.venue, 'other') AS venue, m.quantity, m.tradeprice, m.d,
           m.mid_t, q.mid AS mid_h,
           m.d IS NOT NULL AND m.mid_t IS NOT NULL AND q.mid IS NOT NULL AS signed
    FROM m0 m ASOF LEFT JOIN q
      ON q.security_code = m.security_code AND q.date = m.date AND m.t_h >= q.timestamp
    LEFT JOIN vc ON vc.dealsource = m.dealsource
), agg AS (
    SELECT security_code, date, CASE WHEN grouping(venue) = 1 THEN 'all' ELSE venue END AS venue,
           count(*) AS trades, sum(quantity) AS volume, sum(tradeprice * quantity) AS value,
           count(*) FILTER (WHERE signed) AS signed_trades,
           sum(quantity) FILTER (WHERE signed) AS signed_volume,
           sum(quantity * 2e4 * d * (tradeprice - mid_t) / mid_t) FILTER (WHERE signed) AS eff_num,
           sum(quantity * 2e4 * d * (tradeprice - mid_h) / mid_t) FILTER (WHERE signed) AS real_num,
           sum(quantity * 2e4 * d * (mid_h - mid_t) / mid_t) FILTER (WHERE signed) AS imp_num
    FROM s
    GROUP BY GROUPING SETS ((security_code, date, venue), (security_code, date))
), qs AS (
    SELECT security_code, date, sum(w * 1e4 * spread / mid) / NULLIF(sum(w), 0) AS quoted_spread_bps,
           coalesce(sum(w), 0) / 1e9 AS quoted_time_s, count(*) AS quotes
    FROM (SELECT *, lead(timestamp) OVER (PARTITION BY security_code, date ORDER BY timestamp) - timestamp AS w
          FROM a_quotes)
    GROUP BY security_code, date
)
SELECT u.security_code, u.date, coalesce(a.venue, 'all') AS venue, coalesce(a.trades, 0)::BIGINT AS trades,
       coalesce(a.volume, 0)::BIGINT AS volume, coalesce(a.value, 0)::BIGINT AS value,
       a.eff_num / NULLIF(a.signed_volume, 0) AS eff_spread_bps,
       a.real_num / NULLIF(a.signed_volume, 0) AS realized_spread_bps,
       a.imp_num / NULLIF(a.signed_volume, 0) AS price_impact_bps,
       $liquidity_horizon_s::INTEGER AS horizon_s, qs.quoted_spread_bps,
       coalesce(a.signed_trades, 0)::BIGINT AS signed_trades,
       coalesce(a.signed_volume, 0)::BIGINT AS signed_volume,
       coalesce(qs.quoted_time_s, 0)::DOUBLE AS quoted_time_s, coalesce(qs.quotes, 0)::BIGINT AS quotes
FROM a_units u
LEFT JOIN agg a ON a.security_code = u.security_code AND a.date = u.date
LEFT JOIN qs ON qs.security_code = u.security_code AND qs.date = u.date
WHERE a.venue IS NOT NULL OR qs.quotes IS NOT NULL;
