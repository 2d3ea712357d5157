-- Units (the checkpoint), runs and run stages: SPEC §4 and the contract of §5.
CREATE TABLE IF NOT EXISTS units (
    security_code INTEGER NOT NULL,
    date DATE NOT NULL,
    status VARCHAR NOT NULL DEFAULT 'pending',   -- pending | running | done | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    signature VARCHAR,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    duration_s DOUBLE,
    rows BIGINT,
    error VARCHAR,
    run_id VARCHAR,
    batch_id INTEGER,
    PRIMARY KEY (security_code, date)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    status VARCHAR,
    argv VARCHAR,
    settings JSON,
    machine JSON,
    strategy VARCHAR,
    strategy_reason VARCHAR,
    units_selected INTEGER,
    units_done INTEGER,
    units_failed INTEGER,
    peak_rss_bytes BIGINT
);
CREATE TABLE IF NOT EXISTS run_stages (
    run_id VARCHAR,
    stage VARCHAR,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    duration_s DOUBLE,
    rows BIGINT,
    peak_rss_bytes BIGINT,
    spilled_bytes BIGINT
);
-- Columns added after the first release (catalogs created earlier get them here).
ALTER TABLE runs ADD COLUMN IF NOT EXISTS executor JSON;
ALTER TABLE units ADD COLUMN IF NOT EXISTS worker VARCHAR;
-- Freshness of the post-run tables (aggregates, statistics): the digest they were built for.
CREATE TABLE IF NOT EXISTS finalize_state (
    pipeline VARCHAR PRIMARY KEY,
    digest VARCHAR,
    built_at TIMESTAMP
);
