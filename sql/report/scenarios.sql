-- Report: scenario costs (SPEC §5.5), one row per scenario over the report's done units.
-- savings and real_cost are price units x shares: / the profile's price_scale gives currency units.
-- Positive savings = the scenario is better for the trader. Rows in the order of $scenario_order
-- (the settings' scenario names), others after them by name.
{% from 'report/_scope.sql' import report_units %}
WITH {{ report_units(scope) }}
SELECT
    c.scenario,
    count(*) AS sweeps,
    count(c.savings_bps) AS sweeps_costed,     -- sweeps with an arrival mid
    avg(c.savings_bps) AS mean_savings_bps,
    median(c.savings_bps) AS median_savings_bps,
    stddev_samp(c.savings_bps) AS sd_savings_bps,
    sum(c.real_cost) AS real_cost,
    sum(c.savings) AS total_savings
FROM scenario_costs c
JOIN report_units r ON r.security_code = c.security_code AND r.date = c.date
GROUP BY c.scenario
ORDER BY coalesce(list_position($scenario_order, c.scenario), len($scenario_order) + 1), c.scenario;
