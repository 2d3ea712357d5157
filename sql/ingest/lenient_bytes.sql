-- Bytes that can make an integer text lenient (`pattern`: linesplit.LENIENT_PATTERN, '.', 'e',
-- 'x', 'b', '_', tab, VT, FF; see ingest/_strict_int.sql) in the values of the file's columns
-- that are NOT integers, as DuckDB's CSV reader splits the file (same dialect as sorted_csv.sql, every column as text).
-- When this equals the count over the file's bytes after its header, every such byte is in a
-- text, date or float value, none in an integer column, and the typed read is exact
-- (strict.needs_strict_read). A row the reader skips leaves its bytes uncounted here: the two
-- counts differ and the file is read strictly, so an error can only cost time.
-- Grouped first: text columns repeat a few values (side, validity, deal source), and the
-- regular expression then runs once per distinct combination, not once per row.
SELECT coalesce(sum(_n * ({% for n in others %}coalesce(length({{ n | ident }}) - length(regexp_replace({{ n | ident }}, {{ pattern | literal }}, '', 'g')), 0){{ " + " if not loop.last }}{% endfor %})), 0)::BIGINT
FROM (
    SELECT {% for n in others %}{{ n | ident }}, {% endfor %}count(*) AS _n
    FROM read_csv({{ path | literal }},
        header = true, auto_detect = false, delim = ',', quote = '"', escape = '"',
        strict_mode = true, hive_partitioning = false, compression = {{ compression | literal }},{% if buffer_size %} buffer_size = {{ buffer_size | literal }},{% endif %}
        ignore_errors = true,
        columns = { {% for n in columns %}{{ n | literal }}: 'VARCHAR'{{ ", " if not loop.last }}{% endfor %} })
    GROUP BY ALL
)
