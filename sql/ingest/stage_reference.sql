-- A small reference file: every value as trimmed text (empty = NULL); types are inferred
-- afterwards per column, since they differ between files.
CREATE OR REPLACE TEMP TABLE _dp_ref AS
SELECT {% for n in names %}nullif(trim({{ ("c" ~ loop.index0) | ident }}), '') AS {{ ("c" ~ loop.index0) | ident }}{{ ", " if not loop.last }}{% endfor %}

FROM read_csv({{ path | literal }},
    header = true, auto_detect = false, delim = ',', quote = '"', escape = '"',
    strict_mode = true, hive_partitioning = false, compression = {{ compression | literal }},{% if buffer_size %} buffer_size = {{ buffer_size | literal }},{% endif %}
    columns = { {% for n in names %}{{ ("c" ~ loop.index0) | literal }}: 'VARCHAR'{{ ", " if not loop.last }}{% endfor %} },
    store_rejects = true, rejects_table = {{ rejects_table | literal }},
    rejects_scan = {{ rejects_scan | literal }});
