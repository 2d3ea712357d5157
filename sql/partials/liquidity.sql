-- Step: partial aggregates, liquidity (SPEC §5.10): numerators and weights of the volume- and
--   time-weighted measures.
-- Grain: one row per unit x venue. Reads: _partial_build, liquidity (by name).
-- Writes: agg_partials_liquidity (appends). Bound params: $lo, $hi (the dates being built).
INSERT INTO agg_partials_liquidity BY NAME
SELECT security_code, date, venue,
       count(*) AS units,
       sum(trades) AS trades, sum(volume) AS volume, sum(value) AS value,
       sum(signed_trades) AS signed_trades, sum(signed_volume) AS signed_volume,
       sum(eff_spread_bps * signed_volume) AS eff_num,
       sum(signed_volume) FILTER (WHERE eff_spread_bps IS NOT NULL) AS eff_w,
       sum(realized_spread_bps * signed_volume) AS realized_num,
       sum(signed_volume) FILTER (WHERE realized_spread_bps IS NOT NULL) AS realized_w,
       sum(price_impact_bps * signed_volume) AS impact_num,
       sum(signed_volume) FILTER (WHERE price_impact_bps IS NOT NULL) AS impact_w,
       min(horizon_s) AS horizon_s,
       sum(quoted_spread_bps * quoted_time_s) AS quoted_num,
       sum(quoted_time_s) FILTER (WHERE quoted_spread_bps IS NOT NULL) AS quoted_w
FROM liquidity SEMI JOIN _partial_build USING (security_code, date)
WHERE date BETWEEN $lo AND $hi
GROUP BY ALL;
