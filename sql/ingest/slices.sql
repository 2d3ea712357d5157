-- Row count and order-independent content checksum per security in one store file.
SELECT {{ security_col | ident }} AS security_code, count(*) AS rows,
       sum(hash({% for c in columns %}{{ c | ident }}{{ ", " if not loop.last }}{% endfor %})::HUGEINT) AS hash_sum
FROM read_parquet({{ path | literal }})
GROUP BY ALL
ORDER BY 1;
