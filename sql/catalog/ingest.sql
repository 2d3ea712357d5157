-- Ingest bookkeeping (SPEC §3): manifest per input file, rejected rows, store files and
-- per-(table, security, date) row counts and content checksums. Idempotent.
CREATE TABLE IF NOT EXISTS ingest_manifest (
    path VARCHAR PRIMARY KEY,          -- absolute path of the input file
    size BIGINT,
    mtime DOUBLE,                      -- seconds since the epoch
    fingerprint VARCHAR,               -- blake2b of size + first MiB + last MiB
    content_hash VARCHAR,              -- blake2b of the whole (compressed) file, computed while loading
    source VARCHAR,                    -- the SOURCE folder or glob it came from
    table_name VARCHAR,
    file_id VARCHAR,                   -- names its store files
    format VARCHAR,                    -- csv | csv.gz | parquet
    lines BIGINT,                      -- physical lines of the decompressed file (CSV)
    rows_read BIGINT,
    rows_loaded BIGINT,
    rows_rejected BIGINT,
    blank_lines BIGINT,
    status VARCHAR,                    -- loaded | failed
    error VARCHAR,
    seconds DOUBLE,
    ingested_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS ingest_rejects (
    path VARCHAR,                      -- input file
    line BIGINT,                       -- 1-based physical line (header = 1); Parquet: row number
    column_name VARCHAR,
    reason VARCHAR,
    raw_line BLOB,                     -- exact bytes of the line, without its line terminator
    error_type VARCHAR
);
CREATE TABLE IF NOT EXISTS ingest_files (
    table_name VARCHAR,
    path VARCHAR PRIMARY KEY,          -- store Parquet file, relative to the workspace
    date DATE,                         -- NULL for reference tables
    rows BIGINT,
    manifest_path VARCHAR
);
CREATE TABLE IF NOT EXISTS ingest_partitions (
    table_name VARCHAR,
    security_code INTEGER,
    date DATE,
    file_path VARCHAR,                 -- store file holding the slice (relative to the workspace)
    manifest_path VARCHAR,
    rows BIGINT,
    hash_sum HUGEINT                   -- sum of hash(row) over the slice in that file
);
CREATE OR REPLACE VIEW store_partitions AS
SELECT table_name, security_code, date,
       sum(rows)::BIGINT AS rows,
       md5(sum(rows)::VARCHAR || ':' || sum(hash_sum)::VARCHAR) AS checksum
FROM ingest_partitions
GROUP BY table_name, security_code, date;
-- The workspace folder the catalog's views were last pointed at (their paths are absolute,
-- so any DuckDB client can query them from anywhere); a moved workspace repoints them.
CREATE TABLE IF NOT EXISTS ingest_views_root (root VARCHAR);
-- Columns added after the first release (catalogs created earlier get them here).
-- worker: who wrote the file's store files (host:pid locally, the Dask worker's address on Dask).
ALTER TABLE ingest_manifest ADD COLUMN IF NOT EXISTS worker VARCHAR;
