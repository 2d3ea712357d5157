-- Report: dark-book simulation outcome (SPEC §5.6), one row per (set_label, reason).
-- Reads dark_sweeps of the report's done units. Jinja flag counts: add n_sim_fill_ratio (for the chart).
{% from 'report/_scope.sql' import report_units %}
WITH {{ report_units(scope) }}
SELECT
    d.set_label,
    coalesce(d.reason, CASE d.set_label WHEN 'A' THEN 'matched' END) AS reason,
    count(*) AS sweeps,
    sum(d.offered_quantity) AS offered_quantity,
    sum(d.matched_quantity) AS matched_quantity,
    sum(d.matches) AS matches,
    avg(d.sim_fill_ratio) AS mean_sim_fill_ratio
{% if counts %}
    , count(d.sim_fill_ratio) AS n_sim_fill_ratio
{% endif %}
FROM dark_sweeps d
JOIN report_units r ON r.security_code = d.security_code AND r.date = d.date
GROUP BY ALL
ORDER BY d.set_label, reason;
