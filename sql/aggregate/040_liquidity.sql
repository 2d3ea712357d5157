-- Step: aggregates, liquidity (SPEC §5.10), rendered once per entry of
--   duckpipe.analysis.markouts.LIQUIDITY_AGGREGATES (by security and venue; by venue).
-- Grain: one row per value of the key columns.
-- Reads: agg_partials_liquidity (per-unit numerators and weights of done units). Writes: the table
--   named by `table` (CREATE OR REPLACE inside the caller's transaction).
-- Jinja params: table (identifier), keys (key columns, whitelisted in LIQUIDITY_AGGREGATES),
--   price_scale (the profile's price units per currency unit, a validated integer).
-- Bound params: none.
-- The spreads and impact are volume-weighted over the units' signed volume (as within a unit),
-- the quoted spread time-weighted over the units' quoted time; value is in price units x shares
-- (value_aud = value / price_scale, in currency units).
CREATE OR REPLACE TABLE {{ table | ident }} AS
SELECT {% for key in keys %}{{ key | ident }}, {% endfor %}
       sum(units)::BIGINT AS units,
       sum(trades)::BIGINT AS trades,
       sum(volume)::BIGINT AS volume,
       sum(value)::BIGINT AS value,
       (sum(value) / {{ price_scale | ints }}.0)::DOUBLE AS value_aud,
       sum(signed_trades)::BIGINT AS signed_trades,
       sum(signed_volume)::BIGINT AS signed_volume,
       sum(eff_num) / NULLIF(sum(eff_w), 0) AS eff_spread_bps,
       sum(realized_num) / NULLIF(sum(realized_w), 0) AS realized_spread_bps,
       sum(impact_num) / NULLIF(sum(impact_w), 0) AS price_impact_bps,
       min(horizon_s) AS horizon_s,
       sum(quoted_num) / NULLIF(sum(quoted_w), 0) AS quoted_spread_bps
FROM agg_partials_liquidity
GROUP BY {% for key in keys %}{{ key | ident }}{{ ", " if not loop.last }}{% endfor %}

ORDER BY {% for key in keys %}{{ key | ident }}{{ ", " if not loop.last }}{% endfor %};
