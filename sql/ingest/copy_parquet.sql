-- A reference table given as Parquet: stored as is.
COPY (SELECT * FROM read_parquet({{ path | literal }})) TO {{ out | literal }} (FORMAT parquet, COMPRESSION zstd);
