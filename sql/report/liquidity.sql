-- Report: liquidity by venue class (SPEC §5.10) from agg_liquidity_by_venue; 'all' last.
SELECT venue, units, trades, volume, value_aud, signed_volume, eff_spread_bps, realized_spread_bps,
       price_impact_bps, horizon_s AS horizon_seconds, quoted_spread_bps
FROM agg_liquidity_by_venue
ORDER BY venue = 'all', volume DESC, venue;
