-- Step: aggregates, markout curves (SPEC §5.10), rendered once per entry of
--   duckpipe.analysis.markouts.MARKOUT_AGGREGATES (by source, venue, horizon; also by group and size bucket).
-- Grain: one row per value of the key columns.
-- Reads: agg_partials_markouts (per-unit moments of done units), agg_partials_labels (size bucket
--   labels by index). Writes: the table named by `table` (CREATE OR REPLACE inside the caller's
--   transaction, with the other aggregates).
-- Jinja params: table (identifier), keys (key columns, whitelisted in MARKOUT_AGGREGATES).
-- Bound params: none.
-- fills counts every fill x horizon row, fills_with_mid those with a markout; the means and the
-- interval use the latter: mean_markout_bps = sum(q x) / sum(q) (volume-weighted),
-- se = sqrt(v / (n_eff - 1)) with v = sum(q (x - mean)^2) / sum(q) and n_eff = sum(q)^2 / sum(q^2),
-- ci = mean +- 1.96 se (normal; NULL when n_eff <= 1). A mean of nothing is NULL, never 0.
-- The units' weighted squared deviations (m2w, around each unit cell's own mean) are combined by
-- Chan's parallel formula: M2 = sum m2w_i + sum w_i (mean_i - mean)^2, no cancelling sums of squares.
CREATE OR REPLACE TABLE {{ table | ident }} AS
WITH p AS (
    SELECT {% for key in keys %}{{ key | ident }}, {% endfor %}fills, fills_with_mid, quantity, w, sum_qx,
           m2w, sum_qq, sum_x
    FROM agg_partials_markouts
{% if 'size_bucket' in keys %}
    LEFT JOIN (SELECT size_bucket_idx, any_value(size_bucket) AS size_bucket FROM agg_partials_labels
               GROUP BY size_bucket_idx) USING (size_bucket_idx)
{% endif %}
), g AS (
    SELECT p.*, m.mean
    FROM p JOIN (SELECT {% for key in keys %}{{ key | ident }}, {% endfor %}sum(sum_qx) / sum(w) AS mean
                 FROM p GROUP BY ALL) m
      ON {% for key in keys %}p.{{ key | ident }} IS NOT DISTINCT FROM m.{{ key | ident }}{{ " AND " if not loop.last }}{% endfor %}

), s AS (
    SELECT {% for key in keys %}{{ key | ident }}, {% endfor %}
           sum(fills)::BIGINT AS fills,
           sum(fills_with_mid)::BIGINT AS fills_with_mid,
           sum(quantity)::BIGINT AS quantity,
           sum(w)::BIGINT AS quantity_with_mid,
           any_value(mean) AS mean_markout_bps,
           sum(sum_x) / nullif(sum(fills_with_mid), 0) AS mean_markout_bps_unweighted,
           (sum(m2w) + sum(w * (sum_qx / w - mean) ^ 2)) / sum(w) AS v,
           sum(w)::DOUBLE ^ 2 / sum(sum_qq) AS n_eff
    FROM g
    GROUP BY {% for key in keys %}{{ key | ident }}{{ ", " if not loop.last }}{% endfor %}

), se AS (
    SELECT * EXCLUDE (v),
           CASE WHEN n_eff > 1 THEN sqrt(greatest(v, 0) / (n_eff - 1)) END AS se_bps
    FROM s
)
SELECT *, mean_markout_bps - 1.959963984540054 * se_bps AS ci_low_bps,
       mean_markout_bps + 1.959963984540054 * se_bps AS ci_high_bps
FROM se
ORDER BY {% for key in keys %}{{ key | ident }}{{ ", " if not loop.last }}{% endfor %};
