-- Typed read of one CSV file, sorted by business date then the profile's order
-- (security, time, ...), streamed to the Parquet writer: one pass, no staging file; the
-- ORDER BY spills to temp_directory under memory_limit, so any file size fits.
-- buffer_size follows memory_limit (ingest_memory.py): DuckDB's read buffers share the
-- limit with the sort, and at small limits the default 32 MiB buffers leave it no room.
-- Columns are named by position (`columns`), so raw header text never enters SQL; bad rows
-- go to the reject tables instead of failing the file; an empty required value is an error.
-- `_h` is the row's content hash (summed per security and date into the slice checksum).
-- Integer columns (`strict`) are read as text and cast in _strict_int.sql; a row with a bad
-- one is left out here and located by strict_int_csv.sql (file_cols carries VARCHAR for them).
{% from 'ingest/_strict_int.sql' import int_ok with context %}
SELECT *, hash({% for n in hash_cols %}{{ n | ident }}{{ ", " if not loop.last }}{% endfor %}) AS _h
FROM (
    SELECT *, {% for n, expr in derived %}{{ expr }} AS {{ n | ident }}, {% endfor %}{{ date_expr }} AS date
    FROM (
        SELECT {% for n, t, present in base_cols %}{% if present and n in strict %}TRY_CAST({{ n | ident }} AS {{ t }}) AS {{ n | ident }}{% elif present %}{{ n | ident }}{% else %}NULL::{{ t }} AS {{ n | ident }}{% endif %}{{ ", " if not loop.last }}{% endfor %}

        FROM read_csv({{ path | literal }},
            header = true, auto_detect = false, delim = ',', quote = '"', escape = '"',
            strict_mode = true, hive_partitioning = false, compression = {{ compression | literal }},{% if buffer_size %} buffer_size = {{ buffer_size | literal }},{% endif %}
            columns = { {% for n, t in file_cols %}{{ n | literal }}: {{ t | literal }}{{ ", " if not loop.last }}{% endfor %} },
            force_not_null = {{ required | literal }},
            store_rejects = true, rejects_table = {{ rejects_table | literal }},
            rejects_scan = {{ rejects_scan | literal }})
{% if strict %}        WHERE {% for n in strict %}{% if n in required %}{{ int_ok(n | ident, strict[n]) }}{% else %}({{ n | ident }} IS NULL OR {{ int_ok(n | ident, strict[n]) }}){% endif %}{{ " AND " if not loop.last }}{% endfor %}
{% endif %}    )
)
ORDER BY date{% for c in sort_by %}, {{ c | ident }}{% endfor %}
