-- Step: aggregates, markout curves (SPEC §5.10), rendered once per entry of
--   duckpipe.analysis.markouts.MARKOUT_AGGREGATES (by source, venue, horizon; also by group and size bucket).
-- Grain: one row per value of the key columns.
-- Reads: units (status 'done' only), markouts, sweeps (size bucket labels by index). Writes: the table named by `table` (CREATE OR
--   REPLACE inside the caller's transaction, with the other aggregates).
-- Jinja params: table (identifier), keys (key columns, whitelisted in MARKOUT_AGGREGATES).
-- Bound params: none.
-- fills counts every fill x horizon row, fills_with_mid those with a markout; the means and the
-- interval use the latter: mean_markout_bps = sum(q x) / sum(q) (volume-weighted),
-- se = sqrt(v / (n_eff - 1)) with v = sum(q x^2) / sum(q) - mean^2 and n_eff = sum(q)^2 / sum(q^2),
-- ci = mean +- 1.96 se (normal; NULL when n_eff <= 1). A mean of nothing is NULL, never 0.
CREATE OR REPLACE TABLE {{ table | ident }} AS
WITH m AS (
    SELECT {% for key in keys %}{{ key | ident }}, {% endfor %}markout_bps AS x, quantity::DOUBLE AS q
    FROM markouts
{% if 'size_bucket' in keys %}
    LEFT JOIN (SELECT size_bucket_idx, any_value(size_bucket) AS size_bucket FROM sweeps
               WHERE size_bucket_idx IS NOT NULL GROUP BY size_bucket_idx) USING (size_bucket_idx)
{% endif %}
    SEMI JOIN (SELECT security_code, date FROM units WHERE status = 'done') d
      USING (security_code, date)
), s AS (
    SELECT {% for key in keys %}{{ key | ident }}, {% endfor %}
           count(*) AS fills,
           count(x) AS fills_with_mid,
           sum(q)::BIGINT AS quantity,
           sum(q) FILTER (WHERE x IS NOT NULL)::BIGINT AS quantity_with_mid,
           sum(q * x) / sum(q) FILTER (WHERE x IS NOT NULL) AS mean_markout_bps,
           avg(x) AS mean_markout_bps_unweighted,
           sum(q * x * x) / sum(q) FILTER (WHERE x IS NOT NULL) AS m2,
           sum(q) FILTER (WHERE x IS NOT NULL) ^ 2 / sum(q * q) FILTER (WHERE x IS NOT NULL) AS n_eff
    FROM m
    GROUP BY {% for key in keys %}{{ key | ident }}{{ ", " if not loop.last }}{% endfor %}

), se AS (
    SELECT * EXCLUDE (m2),
           CASE WHEN n_eff > 1 THEN sqrt(greatest(m2 - mean_markout_bps ^ 2, 0) / (n_eff - 1)) END AS se_bps
    FROM s
)
SELECT *, mean_markout_bps - 1.959963984540054 * se_bps AS ci_low_bps,
       mean_markout_bps + 1.959963984540054 * se_bps AS ci_high_bps
FROM se
ORDER BY {% for key in keys %}{{ key | ident }}{{ ", " if not loop.last }}{% endfor %};
