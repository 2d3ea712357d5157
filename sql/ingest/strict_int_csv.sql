-- Locate the rows sorted_csv.sql left out for a bad integer text (run only when rows are
-- missing from the account). DuckDB's CSV reader gives no row numbers, so the file is read
-- again with the same columns in one thread (rows in file order; the same rows rejected by
-- DuckDB itself, which are already in _dp_rejects) and the k-th row is matched with the k-th
-- physical line that starts a record: not the header, not blank, not inside a multi-line
-- record, not rejected. _dp_strict_lines counts both sides so the caller can check the match.
-- Every column the main read projects is projected here too (`_all`): DuckDB checks a field
-- (its UTF-8, say) only when the column is read, and must reject the same rows in both reads.
{% from 'ingest/_strict_int.sql' import int_ok, int_bad, int_reason with context %}
CREATE OR REPLACE TEMP TABLE _dp_strict AS
SELECT k, n_rows, _all,
       coalesce({% for n, t in strict.items() %}CASE WHEN {{ ("_bad_" ~ n) | ident }} THEN {{ n | literal }} END{{ ", " if not loop.last }}{% endfor %}) AS column_name,
       coalesce({% for n, t in strict.items() %}CASE WHEN {{ ("_bad_" ~ n) | ident }} THEN {{ int_reason(n | ident, t) }} END{{ ", " if not loop.last }}{% endfor %}) AS reason
FROM (
    SELECT row_number() OVER () AS k, count(*) OVER () AS n_rows, *
    FROM (
        SELECT {% for n, t in strict.items() %}{% if n in required %}NOT {{ int_ok(n | ident, t) }}{% else %}{{ int_bad(n | ident, t) }}{% endif %} AS {{ ("_bad_" ~ n) | ident }}, {{ n | ident }}, {% endfor %}
               hash({% for n, t in file_cols if not n.startswith('_extra_') %}{{ n | ident }}{{ ", " if not loop.last }}{% endfor %}) AS _all

        FROM read_csv({{ path | literal }},
            header = true, auto_detect = false, delim = ',', quote = '"', escape = '"',
            strict_mode = true, hive_partitioning = false, compression = {{ compression | literal }},
            parallel = false, ignore_errors = true,
            columns = { {% for n, t in file_cols %}{{ n | literal }}: {{ t | literal }}{{ ", " if not loop.last }}{% endfor %} },
            force_not_null = {{ required | literal }})
    )
)
WHERE {% for n in strict %}{{ ("_bad_" ~ n) | ident }}{{ " OR " if not loop.last }}{% endfor %};

CREATE OR REPLACE TEMP TABLE _dp_strict_lines AS
SELECT line, row_number() OVER (ORDER BY line) AS k
FROM generate_series(2, {{ lines | int }}) t(line)
WHERE line NOT IN (SELECT line FROM _dp_rejects WHERE line IS NOT NULL)
  AND line NOT IN (SELECT b FROM _dp_blank_lines)
  AND NOT EXISTS (SELECT 1 FROM _dp_spans_phys s WHERE t.line > s.s AND t.line <= s.e);
