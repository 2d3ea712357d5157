-- Step: aggregates, liquidity (SPEC §5.10), rendered once per entry of
--   duckpipe.analysis.markouts.LIQUIDITY_AGGREGATES (by security and venue; by venue).
-- Grain: one row per value of the key columns.
-- Reads: units (status 'done' only), liquidity. Writes: the table named by `table` (CREATE OR
--   REPLACE inside the caller's transaction).
-- Jinja params: table (identifier), keys (key columns, whitelisted in LIQUIDITY_AGGREGATES),
--   price_scale (the profile's price units per currency unit, a validated integer).
-- Bound params: none.
-- The spreads and impact are volume-weighted over the units' signed volume (as within a unit),
-- the quoted spread time-weighted over the units' quoted time; value is in price units x shares
-- (value_aud = value / price_scale, in currency units).
CREATE OR REPLACE TABLE {{ table | ident }} AS
SELECT {% for key in keys %}{{ key | ident }}, {% endfor %}
       count(*) AS units,
       sum(trades)::BIGINT AS trades,
       sum(volume)::BIGINT AS volume,
       sum(value)::BIGINT AS value,
       (sum(value) / {{ price_scale | ints }}.0)::DOUBLE AS value_aud,
       sum(signed_trades)::BIGINT AS signed_trades,
       sum(signed_volume)::BIGINT AS signed_volume,
       sum(eff_spread_bps * signed_volume) / NULLIF(sum(signed_volume) FILTER (WHERE eff_spread_bps IS NOT NULL), 0)
           AS eff_spread_bps,
       sum(realized_spread_bps * signed_volume)
           / NULLIF(sum(signed_volume) FILTER (WHERE realized_spread_bps IS NOT NULL), 0) AS realized_spread_bps,
       sum(price_impact_bps * signed_volume)
           / NULLIF(sum(signed_volume) FILTER (WHERE price_impact_bps IS NOT NULL), 0) AS price_impact_bps,
       min(horizon_s) AS horizon_s,
       sum(quoted_spread_bps * quoted_time_s)
           / NULLIF(sum(quoted_time_s) FILTER (WHERE quoted_spread_bps IS NOT NULL), 0) AS quoted_spread_bps
FROM liquidity SEMI JOIN (SELECT security_code, date FROM units WHERE status = 'done') d
  USING (security_code, date)
GROUP BY {% for key in keys %}{{ key | ident }}{{ ", " if not loop.last }}{% endfor %}

ORDER BY {% for key in keys %}{{ key | ident }}{{ ", " if not loop.last }}{% endfor %};
