-- Step: statistics, swap in the new stats_tests (SPEC §5.8, contract table of §5).
-- Grain: one row per test.
-- Reads: stats_new (an Arrow table registered by duckpipe.stats). Writes: stats_tests.
-- Params: none. Drops the TEMP stats_cells of 010.
CREATE OR REPLACE TABLE stats_tests AS
SELECT scope::VARCHAR AS scope,
       segment::VARCHAR AS segment,
       metric::VARCHAR AS metric,
       test::VARCHAR AS test,
       n::BIGINT AS n,
       statistic::DOUBLE AS statistic,
       p_value::DOUBLE AS p_value,
       p_adjusted::DOUBLE AS p_adjusted,
       effect_size::DOUBLE AS effect_size,
       ci_low::DOUBLE AS ci_low,
       ci_high::DOUBLE AS ci_high,
       note::VARCHAR AS note,
       effect_measure::VARCHAR AS effect_measure,
       estimate::DOUBLE AS estimate,
       df::DOUBLE AS df,
       df2::DOUBLE AS df2,
       comparison::VARCHAR AS comparison
FROM stats_new
ORDER BY scope, segment, test, metric;
DROP TABLE IF EXISTS stats_cells;
