{#- The business date of an event (SPEC §3): the store's `date` (the calendar date in the
    profile's time zone), or, with the parameter day_rollover, the next date for events at or
    after that local time.
    Used as {{ business_date('o', 'timestamp') }}; dp_local is the macro of 000_batch.sql. -#}
{% macro business_date(alias, ts) -%}
{% if day_rollover -%}
CASE WHEN dp_local({{ alias }}.{{ ts }})::TIME >= $day_rollover::TIME
                THEN dp_local({{ alias }}.{{ ts }})::DATE + 1 ELSE dp_local({{ alias }}.{{ ts }})::DATE END
{%- else -%}
{{ alias }}.date
{%- endif %}
{%- endmacro %}
