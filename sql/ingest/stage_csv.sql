-- Typed read of one CSV file into unsorted Parquet per business date (the staging area).
-- Columns are named by position (`columns`), so raw header text never enters SQL; bad rows
-- go to the reject tables instead of failing the file; an empty required value is an error.
COPY (
    SELECT *, {% for n, expr in derived %}{{ expr }} AS {{ n | ident }}, {% endfor %}{{ date_expr }} AS date
    FROM (
        SELECT {% for n, t, present in store_cols %}{% if present %}{{ n | ident }}{% else %}NULL::{{ t }} AS {{ n | ident }}{% endif %}{{ ", " if not loop.last }}{% endfor %}

        FROM read_csv({{ path | literal }},
            header = true, auto_detect = false, delim = ',', quote = '"', escape = '"',
            strict_mode = true, compression = {{ compression | literal }},
            columns = { {% for n, t in file_cols %}{{ n | literal }}: {{ t | literal }}{{ ", " if not loop.last }}{% endfor %} },
            force_not_null = {{ required | literal }},
            store_rejects = true, rejects_table = {{ rejects_table | literal }},
            rejects_scan = {{ rejects_scan | literal }})
    )
) TO {{ stage_dir | literal }} (FORMAT parquet, PARTITION_BY (date), COMPRESSION snappy, OVERWRITE_OR_IGNORE);
