-- Re-read one store file in full and recompute what ingest recorded for it: rows and the
-- content checksum (sum of hash(row) over the store columns) per security. The same hash as
-- sql/ingest/sorted_csv.sql, so an intact file reproduces ingest_partitions exactly.
SELECT {{ security_col | ident }} AS security_code, count(*) AS rows,
       sum(hash({% for n in hash_cols %}{{ n | ident }}{{ ", " if not loop.last }}{% endfor %})::HUGEINT) AS hash_sum
FROM read_parquet({{ path | literal }})
GROUP BY ALL
ORDER BY 1
