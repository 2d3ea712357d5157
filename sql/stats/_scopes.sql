{#- Shared by 020-040: scopes and segments as GROUPING SETS over stats_observations (SPEC §5.8).
    Scope 'global' or 'security=<code>' x segment 'all', 'size=<bucket>' or 'group=<G1|G2>', in one
    aggregation pass instead of one query per test. A segment whose key is NULL on a row (paired and
    Welch rows carry no group label, anova_size_bucket rows no bucket) is dropped by the HAVING. -#}
{% macro scope_segment() -%}
CASE WHEN grouping(security_code) = 0 THEN 'security=' || security_code ELSE 'global' END AS scope,
       CASE WHEN grouping(size_bucket) = 0 THEN 'size=' || size_bucket
            WHEN grouping(grp_label) = 0 THEN 'group=' || grp_label
            ELSE 'all' END AS segment
{%- endmacro %}
{% macro grouping_sets(keys) -%}
GROUP BY GROUPING SETS (
    ({{ keys }}),
    ({{ keys }}, size_bucket),
    ({{ keys }}, grp_label),
    ({{ keys }}, security_code),
    ({{ keys }}, security_code, size_bucket),
    ({{ keys }}, security_code, grp_label)
)
HAVING (grouping(size_bucket) = 1 OR size_bucket IS NOT NULL)
   AND (grouping(grp_label) = 1 OR grp_label IS NOT NULL)
{%- endmacro %}
