-- Step: statistics, sufficient statistics per test cell (SPEC §5.8, §5.10).
-- Grain: one row per (scope, segment, test, metric, grp): n, mean, m2 (sum of squared deviations
--   from the mean), var = m2 / (n - 1) (NULL for n < 2).
-- Reads: stats_partials, agg_partials_markouts, agg_partials_labels (per-unit (n, sum, m2) of done
--   units: duckpipe.analysis.partials). Writes: TEMP stats_cells, read by 020-060, dropped by 090.
-- Params: none.
-- Scopes 'global' and 'security=<code>' x segments 'all', 'size=<bucket>', 'group=<G1|G2>' where
-- the segment key is not NULL (paired and Welch rows carry no group label, anova_size_bucket rows
-- no bucket). The markout observations are one per fill (not volume-weighted): curve
-- real_centre_point, real_lit or sim_dark (one-sample, metric 'markout_bps:<curve>:<h>s') and
-- sim vs real lit (welch_t_markout, metric 'markout_bps:sim_dark-real_lit:<h>s').
-- Combination (Chan et al.'s parallel formula, in two passes so nothing cancels: a grouped mean
-- joined back, hash-based): first the units
-- of one security cell, then the security cells of each scope and segment:
--   N = sum n_i, mean = sum s_i / N, M2 = sum m2_i + sum n_i (s_i / n_i - mean)^2.
{% macro chan(source, keys) -%}
SELECT {% for k in keys %}x.{{ k }}{{ ", " if not loop.last }}{% endfor %}, sum(x.n) AS n, sum(x.s) AS s,
       sum(x.m2) + sum(x.n * (x.s / x.n - g.gm) * (x.s / x.n - g.gm)) AS m2
FROM {{ source }} x
JOIN (SELECT {{ keys | join(", ") }}, sum(s) / sum(n) AS gm FROM {{ source }} GROUP BY ALL) g
  ON {% for k in keys %}x.{{ k }} IS NOT DISTINCT FROM g.{{ k }}{{ " AND " if not loop.last }}{% endfor %}

GROUP BY ALL
{%- endmacro %}
CREATE OR REPLACE TEMP TABLE stats_cells AS
WITH labels AS (
    SELECT size_bucket_idx, any_value(size_bucket) AS size_bucket
    FROM agg_partials_labels GROUP BY size_bucket_idx
), mk AS (
    SELECT p.*, l.size_bucket, 'G' || p.group_id AS grp_label,
           CASE WHEN p.source = 'sim' AND p.venue = 'dark_sim' THEN 'sim_dark'
                WHEN p.source = 'real' AND p.venue IN ('centre_point', 'lit') THEN 'real_' || p.venue END AS curve
    FROM agg_partials_markouts p LEFT JOIN labels l USING (size_bucket_idx)
    WHERE p.n_f > 0
), units AS (
    SELECT security_code, size_bucket, grp_label, test, metric, grp, n, s, m2 FROM stats_partials
    UNION ALL
    SELECT security_code, size_bucket, grp_label, 'one_sample_t', 'markout_bps:' || curve || ':' || horizon_s || 's',
           curve, n_f, sum_f, m2_f
    FROM mk WHERE curve IS NOT NULL
    UNION ALL
    SELECT security_code, size_bucket, grp_label, 'welch_t_markout', 'markout_bps:sim_dark-real_lit:' || horizon_s || 's',
           CASE WHEN curve = 'sim_dark' THEN 'sim' ELSE 'real' END, n_f, sum_f, m2_f
    FROM mk WHERE curve IN ('sim_dark', 'real_lit')
), sec AS (
    {{ chan("units", ["security_code", "size_bucket", "grp_label", "test", "metric", "grp"]) }}
), scoped AS (
    SELECT 'security=' || security_code AS scope, * FROM sec
    UNION ALL
    SELECT 'global' AS scope, * FROM sec
), segmented AS (
    SELECT scope, 'all' AS segment, test, metric, grp, n, s, m2 FROM scoped
    UNION ALL
    SELECT scope, 'size=' || size_bucket, test, metric, grp, n, s, m2 FROM scoped WHERE size_bucket IS NOT NULL
    UNION ALL
    SELECT scope, 'group=' || grp_label, test, metric, grp, n, s, m2 FROM scoped WHERE grp_label IS NOT NULL
), cells AS (
    {{ chan("segmented", ["scope", "segment", "test", "metric", "grp"]) }}
)
SELECT scope, segment, test, metric, grp, n, s / n AS mean, greatest(m2, 0) AS m2,
       greatest(m2, 0) / nullif(n - 1, 0) AS var
FROM cells;
