-- Report: the units table (SPEC §4), every status, restricted to the selection when there is one.
-- Reads units. Jinja: scope (None or the units selection, see _scope.sql).
{% from 'report/_scope.sql' import selected %}
SELECT u.security_code, u.date, u.status, u.attempts, u.duration_s, u.rows, u.finished_at, u.run_id,
       left(u.error, 200) AS error
FROM units u
{% if scope is not none %}
WHERE {{ selected('u', scope) }}
{% endif %}
ORDER BY u.date, u.security_code;
