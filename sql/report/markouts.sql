-- Report: markout curves (SPEC §5.10) from agg_markouts (all done units), one row per source x venue x horizon.
SELECT source, venue, horizon_s AS horizon_seconds, fills, fills_with_mid AS marked_fills,
       quantity_with_mid AS marked_quantity,
       mean_markout_bps, ci_low_bps, ci_high_bps, mean_markout_bps_unweighted
FROM agg_markouts
ORDER BY source, venue, horizon_s;
