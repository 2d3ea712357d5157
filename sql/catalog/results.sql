-- Results written as partitions (SPEC §4): the manifest of committed result files.
-- result_parts: one row per committed Parquet file under results/<table>/date=YYYY-MM-DD/ (path relative
--   to the workspace); `units` is how many units' rows the file holds; `batch_id` the batch that wrote it
--   (of one-unit batches held and written together, the first).
-- result_files: one row per (result table, unit): the file that holds the unit's current rows. A batch's
--   commit swaps its units' rows here in the same transaction as their checkpoint rows; a file whose units
--   all moved elsewhere is garbage, one whose units partly moved is read through a filter.
-- result_tables: the columns of each result view (from its pipeline's DDL), so any command can rebuild them.
-- result_views_state: the workspace folder and manifest digest the views were built for.
CREATE TABLE IF NOT EXISTS result_parts (
    path VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    date DATE NOT NULL,
    units INTEGER NOT NULL,
    rows BIGINT NOT NULL,
    bytes BIGINT,
    run_id VARCHAR,
    batch_id INTEGER,
    created_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS result_files (
    table_name VARCHAR NOT NULL,
    security_code INTEGER NOT NULL,
    date DATE NOT NULL,
    path VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    run_id VARCHAR,
    batch_id INTEGER
);
CREATE TABLE IF NOT EXISTS result_tables (
    table_name VARCHAR NOT NULL,
    pipeline VARCHAR NOT NULL,
    columns JSON NOT NULL
);
CREATE TABLE IF NOT EXISTS result_views_state (
    root VARCHAR,
    digest VARCHAR
);
