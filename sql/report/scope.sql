-- Report scope: the done units the report covers (SPEC §6), one row per (security, date).
-- Reads units (and report_filter when the caller passed a units filter); writes the TEMP table
-- report_units that every other report query joins to, so that a failed or pending unit's
-- leftover rows are never counted. Parameter: filtered (bool) — restrict to report_filter.
CREATE OR REPLACE TEMP TABLE report_units AS
SELECT u.security_code, u.date
FROM units u
{% if filtered %}
JOIN report_filter f ON f.security_code = u.security_code AND f.date = u.date
{% endif %}
WHERE u.status = 'done';
