-- Typed read of one CSV file, sorted by business date then the profile's order
-- (security, time, ...), streamed to the Parquet writer: one pass, no staging file; the
-- ORDER BY spills to temp_directory under memory_limit, so any file size fits.
-- buffer_size follows memory_limit (ingest_memory.py): DuckDB's read buffers share the
-- limit with the sort, and at small limits the default 32 MiB buffers leave it no room.
-- Columns are named by position (`columns`), so raw header text never enters SQL; bad rows
-- go to the reject tables instead of failing the file; an empty required value is an error.
-- `_h` is the row's content hash (summed per security and date into the slice checksum).
SELECT *, hash({% for n in hash_cols %}{{ n | ident }}{{ ", " if not loop.last }}{% endfor %}) AS _h
FROM (
    SELECT *, {% for n, expr in derived %}{{ expr }} AS {{ n | ident }}, {% endfor %}{{ date_expr }} AS date
    FROM (
        SELECT {% for n, t, present in base_cols %}{% if present %}{{ n | ident }}{% else %}NULL::{{ t }} AS {{ n | ident }}{% endif %}{{ ", " if not loop.last }}{% endfor %}

        FROM read_csv({{ path | literal }},
            header = true, auto_detect = false, delim = ',', quote = '"', escape = '"',
            strict_mode = true, hive_partitioning = false, compression = {{ compression | literal }},{% if buffer_size %} buffer_size = {{ buffer_size | literal }},{% endif %}
            columns = { {% for n, t in file_cols %}{{ n | literal }}: {{ t | literal }}{{ ", " if not loop.last }}{% endfor %} },
            force_not_null = {{ required | literal }},
            store_rejects = true, rejects_table = {{ rejects_table | literal }},
            rejects_scan = {{ rejects_scan | literal }})
    )
)
ORDER BY date{% for c in sort_by %}, {{ c | ident }}{% endfor %}
