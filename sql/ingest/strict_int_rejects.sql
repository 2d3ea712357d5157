-- The rows strict_int_csv.sql located, as rejects: on their lines when every left-out row was
-- matched to a line ($matched), else without a line (cannot happen unless DuckDB lost rows).
{% if matched %}
INSERT INTO _dp_rejects SELECT l.line, s.column_name, s.reason, NULL, 'CAST'
FROM _dp_strict s JOIN _dp_strict_lines l USING (k);
{% else %}
INSERT INTO _dp_rejects SELECT NULL, column_name, reason, NULL, 'CAST' FROM _dp_strict;
{% endif %}
DROP TABLE IF EXISTS temp._dp_strict;
DROP TABLE IF EXISTS temp._dp_strict_lines;
