-- One business date of one input file: sorted by security then time, in small row groups,
-- so a (security, date) query prunes row groups on the security_code statistics.
COPY (
    SELECT * FROM read_parquet({{ files | literal }}, hive_partitioning = false)
    ORDER BY {% for c in sort_by %}{{ c | ident }}{{ ", " if not loop.last }}{% endfor %}

) TO {{ out | literal }} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {{ row_group_size | int }});
