-- Report scope: how many done units the report covers (SPEC §6); 0 means nothing to report.
-- Reads units. Jinja: scope (None or the units selection, see _scope.sql).
{% from 'report/_scope.sql' import report_units %}
WITH {{ report_units(scope) }}
SELECT count(*) AS units FROM report_units;
