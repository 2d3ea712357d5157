-- Per-unit partial aggregates (SPEC §5.9 "incrementally"): the additive sufficient statistics of
-- every aggregate and test, one set of rows per done unit, so that the post-run stage recomputes
-- only the units whose done state changed and combines the rest (duckpipe.analysis.partials).
-- Grain: see each table. Every table has the unit key (security_code, date).
-- Writes: the partial tables when missing (idempotent). Params: none.
-- Sums of integers are HUGEINT (exact); spreads are kept as (n, sum, m2 = sum of squared
-- deviations from the unit cell's own mean) and combined with Chan's parallel formula.
CREATE TABLE IF NOT EXISTS agg_partial_units (   -- which unit state each family's partials were built from
    family VARCHAR NOT NULL,
    security_code INTEGER NOT NULL,
    date DATE NOT NULL,
    token VARCHAR,            -- signature | finished_at | run_id of the done unit
    refresh_id BIGINT,        -- the refresh that built them (tests: only changed units are rebuilt)
    PRIMARY KEY (family, security_code, date)
);
CREATE TABLE IF NOT EXISTS agg_partial_families (  -- the template digest each family was built with
    family VARCHAR PRIMARY KEY,
    digest VARCHAR
);
-- facts: one row per unit x grain x key value x scenario (scenario NULL: the order/sweep/dark
-- measures; a scenario: its savings_bps sum and count). grain 'unit' (no key), 'participant',
-- 'hour' (arrival_hour), 'size' (size_bucket_idx, size_bucket).
CREATE TABLE IF NOT EXISTS agg_partials_facts (
    security_code INTEGER, date DATE, grain VARCHAR,
    participantid BIGINT, arrival_hour INTEGER, size_bucket_idx INTEGER, size_bucket VARCHAR,
    scenario VARCHAR,
    cp_orders BIGINT, sweeps BIGINT, g1_sweeps BIGINT, g2_sweeps BIGINT, g3_sweeps BIGINT,
    qualifying_sweeps BIGINT,
    filled_quantity HUGEINT, filled_value HUGEINT, vw_value HUGEINT, vw_quantity HUGEINT,
    arrival_cost_sum DOUBLE, arrival_cost_n BIGINT, vw_cost_sum DOUBLE, vw_cost_n BIGINT,
    fill_ratio_sum DOUBLE, fill_ratio_n BIGINT, ttff_sum DOUBLE, ttff_n BIGINT,
    sim_offered_quantity HUGEINT, sim_matched_quantity HUGEINT,
    sim_fill_ratio_sum DOUBLE, sim_fill_ratio_n BIGINT, set_a_sweeps BIGINT, set_b_sweeps BIGINT,
    savings_sum DOUBLE, savings_n BIGINT
);
-- markouts: one row per unit x (source, venue, horizon_s, group_id, size_bucket_idx).
-- Weighted (agg_markouts*): quantity over all fills, w = quantity with a markout, sum_qx,
-- m2w = sum q (x - cell weighted mean)^2, sum_qq. Unweighted: sum_x over fills with a markout
-- (aggregates' unweighted mean); n_f, sum_f, m2_f over finite markouts (statistics).
CREATE TABLE IF NOT EXISTS agg_partials_markouts (
    security_code INTEGER, date DATE, source VARCHAR, venue VARCHAR, horizon_s INTEGER,
    group_id INTEGER, size_bucket_idx INTEGER,
    fills BIGINT, fills_with_mid BIGINT, quantity HUGEINT, w HUGEINT,
    sum_qx DOUBLE, m2w DOUBLE, sum_qq DOUBLE, sum_x DOUBLE,
    n_f BIGINT, sum_f DOUBLE, m2_f DOUBLE
);
-- labels: the size bucket label of each index in a unit's sweeps (markouts carry the index only).
CREATE TABLE IF NOT EXISTS agg_partials_labels (
    security_code INTEGER, date DATE, size_bucket_idx INTEGER, size_bucket VARCHAR
);
-- liquidity: one row per unit x venue; volume-weighted numerators and their weights.
CREATE TABLE IF NOT EXISTS agg_partials_liquidity (
    security_code INTEGER, date DATE, venue VARCHAR,
    units BIGINT, trades HUGEINT, volume HUGEINT, value HUGEINT, signed_trades HUGEINT,
    signed_volume HUGEINT,
    eff_num DOUBLE, eff_w HUGEINT, realized_num DOUBLE, realized_w HUGEINT,
    impact_num DOUBLE, impact_w HUGEINT, horizon_s INTEGER, quoted_num DOUBLE, quoted_w DOUBLE
);
-- stats: one row per unit x (size_bucket, grp_label, test, metric, grp) of the §5.8 observations
-- (grp '' where a test compares no groups): n, sum, m2.
CREATE TABLE IF NOT EXISTS stats_partials (
    security_code INTEGER, date DATE, size_bucket VARCHAR, grp_label VARCHAR,
    test VARCHAR, metric VARCHAR, grp VARCHAR,
    n BIGINT, s DOUBLE, m2 DOUBLE
);
