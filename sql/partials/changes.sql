-- Step: partial aggregates, what changed (SPEC §5.9 incremental; duckpipe.analysis.partials).
-- Grain: one row per unit. Reads: units, agg_partial_units. Writes: TEMP _partial_drop (units
--   whose stored partials of the family must go: no longer done, or done in another state) and
--   TEMP _partial_build (done units whose partials must be built, with their state token).
-- Bound params: family (the family name), full (true: drop and rebuild every unit).
-- A unit's state token is its signature, finish time and run id: a unit rerun or recomputed
-- after an input change gets a new one, so its partials are rebuilt; others are kept.
CREATE OR REPLACE TEMP TABLE _partial_current AS
SELECT security_code, date,
       coalesce(signature, '') || '|' || coalesce(CAST(finished_at AS VARCHAR), '') || '|'
           || coalesce(run_id, '') AS token
FROM units WHERE status = 'done';
CREATE OR REPLACE TEMP TABLE _partial_drop AS
SELECT s.security_code, s.date
FROM agg_partial_units s
WHERE s.family = $family
  AND ($full OR NOT EXISTS (SELECT 1 FROM _partial_current c WHERE c.security_code = s.security_code
                            AND c.date = s.date AND c.token = s.token));
CREATE OR REPLACE TEMP TABLE _partial_build AS
SELECT c.security_code, c.date, c.token
FROM _partial_current c
WHERE $full OR NOT EXISTS (SELECT 1 FROM agg_partial_units s WHERE s.family = $family
                           AND s.security_code = c.security_code AND s.date = c.date
                           AND s.token = c.token);
