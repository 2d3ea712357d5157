-- Report: the executed sweeps with the highest arrival cost, for tracing numbers back to
-- orders and trades (order ids stay UBIGINT, never DOUBLE). Parameter: $limit (INTEGER).
{% from 'report/_scope.sql' import report_units %}
WITH {{ report_units(scope) }}
SELECT s.security_code, s.date, s.order_id,
       CASE s.side WHEN 1 THEN 'buy' WHEN 2 THEN 'sell' END AS side, 'G' || s.group_id AS "group",
       s.filled_quantity, s.vwap, s.arrival_mid, s.arrival_cost_bps, s.time_to_first_fill_s
FROM sweeps s
JOIN report_units r ON r.security_code = s.security_code AND r.date = s.date
WHERE s.arrival_cost_bps IS NOT NULL
ORDER BY s.arrival_cost_bps DESC, s.security_code, s.date, s.order_id
LIMIT $limit;
