-- A Parquet input file: cast each mapped column; a row whose non-NULL value does not cast,
-- or whose required value is NULL, is rejected (line = 1-based row number; see
-- rejects_parquet.sql). The good rows, sorted like sorted_csv.sql, are streamed to the writer.
-- An integer column takes only integral values (`kind`, ingest/strict.py): text must be a plain
-- integer literal (_strict_int.sql); a float must be integral and within 2^53 (2^24 for a 32-bit
-- float; beyond, the float has already rounded it: an order id through float64 is corrupted); a
-- DECIMAL must be integral.
{% from 'ingest/_strict_int.sql' import int_ok with context %}
{% macro val(t, raw, kind) -%}
{% if kind == 'text' %}CASE WHEN {{ int_ok(raw, t) }} THEN TRY_CAST({{ raw }} AS {{ t }}) END
{%- elif kind in ('float', 'float32') %}CASE WHEN {{ raw }} = trunc({{ raw }}) AND abs({{ raw }}) <= {{ 9007199254740992 if kind == 'float' else 16777216 }} THEN TRY_CAST({{ raw }} AS {{ t }}) END
{%- elif kind == 'exact' %}CASE WHEN TRY_CAST({{ raw }} AS {{ t }}) = {{ raw }} THEN TRY_CAST({{ raw }} AS {{ t }}) END
{%- else %}TRY_CAST({{ raw }} AS {{ t }}){% endif %}
{%- endmacro %}
CREATE OR REPLACE TEMP VIEW _dp_pq AS
SELECT p.file_row_number + 1 AS _line,
       {% for n, t, raw, req, kind in cols %}
       {{ val(t, raw, kind) }} AS {{ n | ident }},
       {% if req %}({{ raw }} IS NULL OR {{ val(t, raw, kind) }} IS NULL){% else %}({{ raw }} IS NOT NULL AND {{ val(t, raw, kind) }} IS NULL){% endif %} AS {{ ("_bad_" ~ n) | ident }},
       {% endfor %}
       to_json(p)::VARCHAR AS _raw
FROM read_parquet({{ path | literal }}, file_row_number = true, hive_partitioning = false) p;

SELECT *, hash({% for n in hash_cols %}{{ n | ident }}{{ ", " if not loop.last }}{% endfor %}) AS _h
FROM (
    SELECT *, {% for n, expr in derived %}{{ expr }} AS {{ n | ident }}, {% endfor %}{{ date_expr }} AS date
    FROM (
        SELECT {% for n, t, present in base_cols %}{% if present %}{{ n | ident }}{% else %}NULL::{{ t }} AS {{ n | ident }}{% endif %}{{ ", " if not loop.last }}{% endfor %}

        FROM _dp_pq
        WHERE NOT ({% for n, t, raw, req, kind in cols %}{{ ("_bad_" ~ n) | ident }}{{ " OR " if not loop.last }}{% endfor %})
    )
)
ORDER BY date{% for c in sort_by %}, {{ c | ident }}{% endfor %}
