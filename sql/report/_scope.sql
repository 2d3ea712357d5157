{#- The report's scope, shared by the report queries (SPEC §6): the done units it covers.
    scope: None (every done unit) or the selection as groups {dates, codes} (see
    duckpipe.report.provenance.scope_groups), rendered as validated literals so that the query a
    table shows under it runs as it is, without the report's session. -#}
{% macro selected(u, scope) -%}
({% for g in scope %}({{ u }}.date IN ({{ g.dates|dates }}) AND {{ u }}.security_code IN ({{ g.codes|ints }})){{ ' OR ' if not loop.last }}{% else %}FALSE{% endfor %})
{%- endmacro %}
{% macro report_units(scope) -%}
report_units AS (   -- the report's scope: done units{{ ' of the selection' if scope is not none }}
    SELECT u.security_code, u.date FROM units u
    WHERE u.status = 'done'{% if scope is not none %} AND {{ selected('u', scope) }}{% endif %}

)
{%- endmacro %}
