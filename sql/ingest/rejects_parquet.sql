-- The rows of a Parquet input file that sorted_parquet.sql left out, one reject each.
CREATE OR REPLACE TEMP TABLE _dp_rejects AS
SELECT _line AS line,
       coalesce({% for n, t, raw, req, kind in cols %}CASE WHEN {{ ("_bad_" ~ n) | ident }} THEN {{ n | literal }} END{{ ", " if not loop.last }}{% endfor %}) AS column_name,
       coalesce({% for n, t, raw, req, kind in cols %}CASE WHEN {{ ("_bad_" ~ n) | ident }} THEN {{ reasons[kind] | literal }} END{{ ", " if not loop.last }}{% endfor %}) AS reason,
       encode(_raw) AS raw_line,
       'CAST' AS error_type
FROM _dp_pq
WHERE {% for n, t, raw, req, kind in cols %}{{ ("_bad_" ~ n) | ident }}{{ " OR " if not loop.last }}{% endfor %};
