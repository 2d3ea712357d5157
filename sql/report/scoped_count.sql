-- Report: rows of one per-unit result table that belong to the report's done units.
-- Parameter (Jinja): table — a result table name, checked by the ident filter.
{% from 'report/_scope.sql' import report_units %}
WITH {{ report_units(scope) }}
SELECT count(*) AS n
FROM {{ table|ident }} x
JOIN report_units r ON r.security_code = x.security_code AND r.date = x.date;
