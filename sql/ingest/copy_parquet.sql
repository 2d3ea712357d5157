-- A reference table given as Parquet: stored as is.
COPY (SELECT * FROM read_parquet({{ path | literal }}, hive_partitioning = false)) TO {{ out | literal }} (FORMAT parquet, COMPRESSION zstd);
