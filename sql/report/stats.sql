-- Report: statistical tests (SPEC §5.8) from stats_tests, one part of them per report table.
-- Jinja: cols (the stats_tests columns shown, whitelisted by ident), has_segment (the table has
-- a segment column), part: 'global' (scope global, segment 'all' or none), 'segments' (scope
-- global, other segments), 'other' (every other scope) or 'significant' (p_adjusted < 0.05).
SELECT {% for c in cols %}{{ c|ident }}{{ ', ' if not loop.last }}{% endfor %}

FROM stats_tests
{% if part == 'global' %}
WHERE scope = 'global'{% if has_segment %} AND (segment = 'all' OR segment IS NULL){% endif %}

{% elif part == 'segments' %}
WHERE {% if has_segment %}scope = 'global' AND segment <> 'all'{% else %}FALSE{% endif %}

{% elif part == 'other' %}
WHERE scope IS DISTINCT FROM 'global'
{% elif part == 'significant' %}
WHERE p_adjusted < 0.05
{% endif %}
ORDER BY scope IS DISTINCT FROM 'global', scope{{ ', segment' if has_segment }}, metric, test;
