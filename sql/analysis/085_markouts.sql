-- step 10: markouts of real sweep fills and simulated dark fills at each horizon (after step 8)
-- grain: fill x horizon | reads: a_fills, a_sweeps, a_dark_matches, a_quotes
-- writes: temp view a_markouts (and its bound values as temp tables a_markout_horizons,
--         a_venue_classes)
-- parameters: :markout_horizons INTEGER[] (seconds, default [1, 5, 30, 60, 300]),
--             :venue_code INTEGER[], :venue_name VARCHAR[] (zipped: the profile's dealsource ->
--             venue class table; a dealsource not listed is 'other')
-- SPEC §5.10: real fills = every trade row of an executed sweep (G1, G2) as in §5.4 (a_fills: a
-- trade report counted once); simulated fills = every dark match with a price (venue 'dark_sim').
-- s = the sweep's side sign; markout_bps = s (M(t + h) - p) / p x 1e4, NULL when M(t + h) is
-- NULL. M(x) = the mid of the last valid quote of the same security with timestamp <= x on the
-- fill's business date (a_quotes keeps one quote per timestamp, the larger sequence): one sorted
-- ASOF join over all fills x horizons (the quotes narrowed to the join's columns), no lookup per
-- row. A fill late in the day whose t + h lies past the last quote is marked out at the day's last
-- quote. The rows stay narrow (it is the largest result table): fill_ref = the trade's matchgroupid
-- (real) or the contra order id (sim); group and size bucket index of the sweep for the aggregates.
-- a_markouts is a view, not a table: no later step reads it, so the engine's fetch of the result
-- tables runs the query once straight into Arrow instead of materialising 2.6 M rows in a temp
-- table and reading them back (bench/profile_markouts.py: ~20% of this step). A view holds no
-- bound parameters, hence the two small tables of bound values.
CREATE OR REPLACE TEMP TABLE a_venue_classes AS
SELECT unnest($venue_code::INTEGER[]) AS dealsource, unnest($venue_name::VARCHAR[]) AS venue;
CREATE OR REPLACE TEMP TABLE a_markout_horizons AS
SELECT unnest($markout_horizons::INTEGER[]) AS horizon_s;
CREATE OR REPLACE TEMP VIEW a_markouts AS
WITH vc AS (
    SELECT dealsource, venue FROM a_venue_classes
), hz AS (
    SELECT horizon_s FROM a_markout_horizons
), sw AS (
    SELECT security_code, date, order_id, group_id, size_bucket_idx,
           CASE side WHEN 1 THEN 1 WHEN 2 THEN -1 END AS sgn
    FROM a_sweeps WHERE group_id IN (1, 2)
), fills AS (
    SELECT f.security_code, f.date, f.order_id, 'real' AS source, coalesce(vc.venue, 'other') AS venue,
           f.matchgroupid AS fill_ref, f.tradetime AS fill_ts, f.tradeprice::DOUBLE AS price, f.quantity
    FROM a_fills f LEFT JOIN vc ON vc.dealsource = f.dealsource
    UNION ALL
    SELECT m.security_code, m.date, m.sweep_order_id, 'sim', 'dark_sim', m.contra_order_id, m.match_ts,
           m.price, m.quantity
    FROM a_dark_matches m
    WHERE m.price IS NOT NULL
), x AS (
    SELECT f.*, s.sgn, s.group_id, s.size_bucket_idx, h.horizon_s,
           f.fill_ts + h.horizon_s::BIGINT * 1000000000 AS t_after
    FROM fills f
    JOIN sw s ON s.security_code = f.security_code AND s.date = f.date AND s.order_id = f.order_id
    CROSS JOIN hz h
)
SELECT x.security_code, x.date, x.order_id, x.source, x.venue, x.fill_ts, x.price, x.quantity::BIGINT AS quantity,
       x.horizon_s, q.mid AS mid_after,
       1e4 * x.sgn * (q.mid - x.price) / NULLIF(x.price, 0) AS markout_bps,
       x.group_id, x.size_bucket_idx, x.fill_ref
FROM x ASOF LEFT JOIN (SELECT security_code, date, timestamp, mid FROM a_quotes) q
  ON q.security_code = x.security_code AND q.date = x.date AND x.t_after >= q.timestamp;
