-- DuckDB reports one error per bad field; keep one reject per physical line.
CREATE OR REPLACE TEMP TABLE _dp_rejects AS
SELECT line,
       arg_min(column_name, coalesce(column_idx, 0)) AS column_name,
       string_agg(lower(error_type::VARCHAR) || ': ' || error_message, '; ' ORDER BY column_idx) AS reason,
       NULL::BLOB AS raw_line,
       min(error_type::VARCHAR) AS error_type
FROM {{ rejects_table | ident }}
GROUP BY line
ORDER BY line;
