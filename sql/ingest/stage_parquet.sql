-- A Parquet input file: cast each mapped column; a row whose non-NULL value does not cast,
-- or whose required value is NULL, is rejected (line = 1-based row number).
CREATE OR REPLACE TEMP VIEW _dp_pq AS
SELECT p.file_row_number + 1 AS _line,
       {% for n, t, raw, req in cols %}
       TRY_CAST({{ raw }} AS {{ t }}) AS {{ n | ident }},
       {% if req %}({{ raw }} IS NULL OR TRY_CAST({{ raw }} AS {{ t }}) IS NULL){% else %}({{ raw }} IS NOT NULL AND TRY_CAST({{ raw }} AS {{ t }}) IS NULL){% endif %} AS {{ ("_bad_" ~ n) | ident }},
       {% endfor %}
       to_json(p)::VARCHAR AS _raw
FROM read_parquet({{ path | literal }}, file_row_number = true) p;

COPY (
    SELECT *, {% for n, expr in derived %}{{ expr }} AS {{ n | ident }}, {% endfor %}{{ date_expr }} AS date
    FROM (
        SELECT {% for n, t, present in store_cols %}{% if present %}{{ n | ident }}{% else %}NULL::{{ t }} AS {{ n | ident }}{% endif %}{{ ", " if not loop.last }}{% endfor %}

        FROM _dp_pq
        WHERE NOT ({% for n, t, raw, req in cols %}{{ ("_bad_" ~ n) | ident }}{{ " OR " if not loop.last }}{% endfor %})
    )
) TO {{ stage_dir | literal }} (FORMAT parquet, PARTITION_BY (date), COMPRESSION snappy, OVERWRITE_OR_IGNORE);

CREATE OR REPLACE TEMP TABLE _dp_rejects AS
SELECT _line AS line,
       coalesce({% for n, t, raw, req in cols %}CASE WHEN {{ ("_bad_" ~ n) | ident }} THEN {{ n | literal }} END{{ ", " if not loop.last }}{% endfor %}) AS column_name,
       'value does not convert to the column type or required value missing' AS reason,
       encode(_raw) AS raw_line,
       'CAST' AS error_type
FROM _dp_pq
WHERE {% for n, t, raw, req in cols %}{{ ("_bad_" ~ n) | ident }}{{ " OR " if not loop.last }}{% endfor %};
