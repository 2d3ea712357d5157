-- Report chart data: arrival cost distribution, real (every executed sweep) versus simulated
-- (set-A dark sweeps, simulated VWAP against the arrival mid), binned in SQL so that the
-- report never loads per-order rows into Python. Range = 1st to 99th percentile of both series;
-- values outside are clamped into the end bins. Parameter: $bins (INTEGER).
{% from 'report/_scope.sql' import report_units %}
WITH {{ report_units(scope) }},
real AS (
    SELECT s.arrival_cost_bps AS v FROM sweeps s
    JOIN report_units r ON r.security_code = s.security_code AND r.date = s.date
    WHERE s.arrival_cost_bps IS NOT NULL
), sim AS (
    SELECT (CASE WHEN s.side = 1 THEN 1 ELSE -1 END) * (d.sim_vwap - s.arrival_mid) / s.arrival_mid * 1e4 AS v
    FROM dark_sweeps d
    JOIN report_units r ON r.security_code = d.security_code AND r.date = d.date
    JOIN sweeps s ON s.security_code = d.security_code AND s.date = d.date AND s.order_id = d.order_id
    WHERE d.set_label = 'A' AND d.sim_vwap IS NOT NULL AND s.arrival_mid > 0
), allv AS (
    SELECT 'real' AS series, v FROM real UNION ALL SELECT 'simulated', v FROM sim
), rng AS (
    SELECT quantile_cont(v, 0.01) AS lo, quantile_cont(v, 0.99) AS hi FROM allv
), binned AS (
    SELECT series,
           CASE WHEN rng.hi > rng.lo
                THEN least($bins - 1, greatest(0, floor((v - rng.lo) / ((rng.hi - rng.lo) / $bins))))::INTEGER
                ELSE 0 END AS bin
    FROM allv, rng
)
SELECT b.series, b.bin, count(*) AS n, any_value(rng.lo) AS lo, any_value(rng.hi) AS hi
FROM binned b, rng
GROUP BY b.series, b.bin
ORDER BY b.series, b.bin;
