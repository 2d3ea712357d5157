{#- Shared by 050/060: the markouts of done units reduced once to per-cell moments (SPEC §5.10),
    cell = (security, size bucket, group, curve, horizon), so that the six GROUPING SETS of the
    scopes and segments run over a few hundred rows instead of every fill x horizon. Per cell:
    n, mean, m2 = sum of squared deviations (DuckDB's var_samp x (n - 1)); combined per set by
    Chan's formula around ref = the smallest cell mean of the (curve, horizon), so that constant
    data stay exactly constant (var 0 is found, not rounding noise):
      N = sum n, mean = ref + sum n d / N, M2 = sum m2 + sum n d^2 - (sum n d)^2 / N, d = mean - ref.
    curve: SQL naming the curve of a markouts row m (NULL: not used); metric: SQL over curve and
    horizon_s; test: the test name. -#}
{% macro cells(curve, metric, test) -%}
labels AS (
    SELECT size_bucket_idx, any_value(size_bucket) AS size_bucket
    FROM sweeps WHERE size_bucket_idx IS NOT NULL GROUP BY size_bucket_idx
), raw AS (
    SELECT m.security_code, m.size_bucket_idx, m.group_id, m.horizon_s, {{ curve }} AS curve,
           count(*) AS n, avg(m.markout_bps) AS mean,
           coalesce(var_samp(m.markout_bps), 0) * (count(*) - 1) AS m2
    FROM markouts m
    SEMI JOIN (SELECT security_code, date FROM units WHERE status = 'done') d USING (security_code, date)
    WHERE m.markout_bps IS NOT NULL AND NOT isnan(m.markout_bps) AND ({{ curve }}) IS NOT NULL
    GROUP BY ALL
), obs AS (
    SELECT r.security_code, l.size_bucket, 'G' || r.group_id AS grp_label, '{{ test }}' AS test,
           {{ metric }} AS metric, r.curve AS grp, r.n, r.m2,
           r.mean - min(r.mean) OVER (PARTITION BY r.horizon_s, r.curve) AS d,
           min(r.mean) OVER (PARTITION BY r.horizon_s, r.curve) AS ref
    FROM raw r LEFT JOIN labels l USING (size_bucket_idx)
)
{%- endmacro %}
{% macro moments(filter, suffix) -%}
coalesce(sum(n) FILTER ({{ filter }}), 0) AS n{{ suffix }},
       any_value(ref) FILTER ({{ filter }}) + sum(n * d) FILTER ({{ filter }}) / sum(n) FILTER ({{ filter }})
           AS mean{{ suffix }},
       (sum(m2) FILTER ({{ filter }}) + sum(n * d * d) FILTER ({{ filter }})
        - sum(n * d) FILTER ({{ filter }}) ^ 2 / sum(n) FILTER ({{ filter }}))
           / (sum(n) FILTER ({{ filter }}) - 1) AS var{{ suffix }}
{%- endmacro %}
