-- step 6: what-if costs of every executed sweep under each scenario
-- grain: executed sweep (G1, G2) x scenario | reads: a_sweeps | writes: temp a_scenario_costs
-- parameters: :scn_name VARCHAR[], :scn_share DOUBLE[], :scn_rest VARCHAR[], :scn_impact DOUBLE[]
--             (zipped; default scenarios unlimited 1.0/real, limited_50 0.5/real, price_impact 0.5/impact 5 bps)
-- SPEC §5.5: Q = filled quantity, M = arrival mid, s = side sign; real = Q x VWAP;
-- scenario = d Q M + (1 - d) Q P_rest, P_rest = VWAP (real) or M (1 + s impact_bps / 1e4) (impact);
-- savings = s (real - scenario); savings_bps = 1e4 savings / (Q M). NULL when M is NULL.
CREATE OR REPLACE TEMP TABLE a_scenario_costs AS
WITH scn AS (
    SELECT unnest($scn_name::VARCHAR[]) AS scenario, unnest($scn_share::DOUBLE[]) AS d,
           unnest($scn_rest::VARCHAR[]) AS rest, unnest($scn_impact::DOUBLE[]) AS impact_bps
), base AS (
    SELECT s.security_code, s.date, s.order_id, s.group_id, s.side, s.participantid,
           s.arrival_hour, s.size_bucket, s.size_bucket_idx,
           CASE s.side WHEN 1 THEN 1 WHEN 2 THEN -1 END AS sgn,
           s.filled_quantity AS q, s.vwap, s.arrival_mid AS m,
           c.scenario, c.d, c.rest, c.impact_bps,
           CASE c.rest WHEN 'real' THEN s.vwap
                       WHEN 'impact' THEN s.arrival_mid * (1 + (CASE s.side WHEN 1 THEN 1 WHEN 2 THEN -1 END) * c.impact_bps / 1e4)
           END AS p_rest
    FROM a_sweeps s CROSS JOIN scn c
    WHERE s.group_id IN (1, 2)
), costs AS (
    SELECT b.*, b.q * b.vwap AS real_cost,
           CASE WHEN b.m IS NOT NULL THEN b.d * b.q * b.m + (1 - b.d) * b.q * b.p_rest END AS scenario_cost
    FROM base b
)
SELECT security_code, date, order_id, scenario, group_id, side, participantid, arrival_hour,
       size_bucket, size_bucket_idx, d AS dark_share, rest, impact_bps,
       q::BIGINT AS quantity, vwap, m AS arrival_mid, real_cost, scenario_cost,
       sgn * (real_cost - scenario_cost) AS savings,
       1e4 * sgn * (real_cost - scenario_cost) / NULLIF(q * m, 0) AS savings_bps
FROM costs;
