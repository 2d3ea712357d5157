-- Report: sweep groups G1/G2/G3 (SPEC §5.3-5.4), one row per group plus an 'All' row.
-- Reads sweeps of the report's done units. VWAP is volume-weighted over all fills of the group;
-- filled value is in price units x shares (divide by the profile's price_scale for currency units).
{% from 'report/_scope.sql' import report_units %}
WITH {{ report_units(scope) }},
s AS (
    SELECT x.* FROM sweeps x
    JOIN report_units r ON r.security_code = x.security_code AND r.date = x.date
)
SELECT
    CASE WHEN GROUPING(group_id) = 1 THEN 'All' ELSE 'G' || group_id END AS "group",
    count(*) AS sweeps,
    sum(CASE WHEN qualifying THEN 1 ELSE 0 END) AS qualifying,
    sum(filled_quantity) AS filled_quantity,
    sum(vwap * filled_quantity) AS filled_value,
    sum(vwap * filled_quantity) / nullif(sum(CASE WHEN vwap IS NOT NULL THEN filled_quantity END), 0) AS vwap,
    avg(fill_ratio) AS mean_fill_ratio,
    avg(arrival_cost_bps) AS mean_arrival_cost_bps,
    median(arrival_cost_bps) AS median_arrival_cost_bps,
    avg(vw_cost_bps) AS mean_vw_cost_bps,
    avg(time_to_first_fill_s) AS mean_time_to_first_fill_s
FROM s
GROUP BY ROLLUP (group_id)
ORDER BY GROUPING(group_id), group_id;
