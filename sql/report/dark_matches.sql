-- Report: simulated matches of the report's done units (SPEC §5.6); matches without a valid
-- mid keep a NULL price and are left out of the price metrics, so the report counts them.
{% from 'report/_scope.sql' import report_units %}
WITH {{ report_units(scope) }}
SELECT count(*) AS matches,
       count(*) FILTER (WHERE m.price IS NULL) AS no_price,
       sum(m.quantity) AS quantity
FROM dark_matches m
JOIN report_units r ON r.security_code = m.security_code AND r.date = m.date;
