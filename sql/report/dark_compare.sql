-- Report: real versus simulated execution of the set-A sweeps (SPEC §5.6 last paragraph),
-- one row per metric both sides have. Reads sweeps and dark_sweeps of the report's done units.
-- Simulated arrival cost uses the simulated VWAP against the same arrival mid:
-- s x (sim_vwap - arrival_mid) / arrival_mid x 1e4, s = +1 buy, -1 sell.
-- Parameters (Jinja): ttff_col / vwte_col — the dark_sweeps column of the simulated time to
-- first fill / VWTE when the table has one (else that metric is left out). Kind: how the
-- report formats the row's values; simulated_minus_real = simulated - real.
{% from 'report/_scope.sql' import report_units %}
WITH {{ report_units(scope) }},
p AS (
    SELECT
        s.fill_ratio AS real_fill_ratio,
        d.sim_fill_ratio,
        s.arrival_cost_bps AS real_arrival_cost_bps,
        CASE WHEN s.arrival_mid > 0 AND d.sim_vwap IS NOT NULL
             THEN (CASE WHEN s.side = 1 THEN 1 ELSE -1 END) * (d.sim_vwap - s.arrival_mid) / s.arrival_mid * 1e4
        END AS sim_arrival_cost_bps,
        s.vwap AS real_vwap,
        d.sim_vwap,
        s.time_to_first_fill_s AS real_ttff_s,
        {{ ('d.' ~ (ttff_col|ident)) if ttff_col else 'NULL::DOUBLE' }} AS sim_ttff_s,
        s.vwte_s AS real_vwte_s,
        {{ ('d.' ~ (vwte_col|ident)) if vwte_col else 'NULL::DOUBLE' }} AS sim_vwte_s
    FROM dark_sweeps d
    JOIN report_units r ON r.security_code = d.security_code AND r.date = d.date
    JOIN sweeps s ON s.security_code = d.security_code AND s.date = d.date AND s.order_id = d.order_id
    WHERE d.set_label = 'A'
),
m AS (   -- one row per metric; pos keeps them in this order (UNION ALL alone does not)
SELECT 1 AS pos, 'Fill ratio (%)' AS metric, 'ratio' AS kind,
       count(real_fill_ratio) AS n_real, avg(real_fill_ratio) AS real,
       count(sim_fill_ratio) AS n_sim, avg(sim_fill_ratio) AS simulated,
       avg(sim_fill_ratio) - avg(real_fill_ratio) AS simulated_minus_real FROM p
UNION ALL
SELECT 2, 'Arrival cost (bps)', 'bps', count(real_arrival_cost_bps), avg(real_arrival_cost_bps),
       count(sim_arrival_cost_bps), avg(sim_arrival_cost_bps),
       avg(sim_arrival_cost_bps) - avg(real_arrival_cost_bps) FROM p
{% if ttff_col %}
UNION ALL
SELECT 3, 'Time to first fill (s)', 'seconds', count(real_ttff_s), avg(real_ttff_s),
       count(sim_ttff_s), avg(sim_ttff_s), avg(sim_ttff_s) - avg(real_ttff_s) FROM p
{% endif %}
{% if vwte_col %}
UNION ALL
SELECT 4, 'VWTE (s)', 'seconds', count(real_vwte_s), avg(real_vwte_s),
       count(sim_vwte_s), avg(sim_vwte_s), avg(sim_vwte_s) - avg(real_vwte_s) FROM p
{% endif %}
)
SELECT * EXCLUDE (pos) FROM m ORDER BY pos;
