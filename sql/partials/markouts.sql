-- Step: partial aggregates, markouts (SPEC §5.10): the moments of the markout curves and tests,
--   and the size bucket labels of the units' sweeps.
-- Grain: agg_partials_markouts one row per unit x (source, venue, horizon_s, group_id,
--   size_bucket_idx); agg_partials_labels one row per unit x size_bucket_idx.
-- Reads: _partial_build, markouts, sweeps (by name). Writes: agg_partials_markouts,
--   agg_partials_labels (appends). Bound params: $lo, $hi, $dates (the dates being built).
-- m2w and m2_f are sums of squared deviations from the cell's own (weighted / plain) mean,
-- computed in two passes (a window over the cell), so no sum of squares is ever cancelled.
-- The units to build are picked after the aggregation (cells never span units): a semi join on
-- the 2.6 M input rows of bench_markouts made the windows ~3x slower (1.6 s vs 0.5 s CPU). A plain
-- filter on the dates being built (a list, not a join) keeps a rerun of a few units on far-apart
-- dates from aggregating every date in between.
INSERT INTO agg_partials_markouts BY NAME
WITH m AS (
    SELECT security_code, date, source, venue, horizon_s, group_id, size_bucket_idx,
           markout_bps AS x, quantity AS q,
           CASE WHEN markout_bps IS NOT NULL AND NOT isnan(markout_bps) THEN markout_bps END AS xf
    FROM markouts
    WHERE date BETWEEN $lo AND $hi AND list_contains($dates::DATE[], date)
), c AS (
    SELECT *,
           sum(q * x) OVER w / sum(q) FILTER (WHERE x IS NOT NULL) OVER w AS wmean,
           avg(xf) OVER w AS fmean
    FROM m
    WINDOW w AS (PARTITION BY security_code, date, source, venue, horizon_s, group_id, size_bucket_idx)
)
SELECT * FROM (
SELECT security_code, date, source, venue, horizon_s, group_id, size_bucket_idx,
       count(*) AS fills,
       count(x) AS fills_with_mid,
       sum(q) AS quantity,
       sum(q) FILTER (WHERE x IS NOT NULL) AS w,
       sum(q * x) AS sum_qx,
       sum(q * (x - wmean) * (x - wmean)) AS m2w,
       sum(q::DOUBLE * q) FILTER (WHERE x IS NOT NULL) AS sum_qq,
       sum(x) AS sum_x,
       count(xf) AS n_f,
       sum(xf) AS sum_f,
       sum((xf - fmean) * (xf - fmean)) AS m2_f
FROM c
GROUP BY ALL
) SEMI JOIN _partial_build USING (security_code, date);
INSERT INTO agg_partials_labels BY NAME
SELECT security_code, date, size_bucket_idx, any_value(size_bucket) AS size_bucket
FROM sweeps SEMI JOIN _partial_build USING (security_code, date)
WHERE date BETWEEN $lo AND $hi AND size_bucket_idx IS NOT NULL
GROUP BY ALL;
