{#- Strict integers (SPEC §3): DuckDB's text-to-integer cast also takes '12.31' (-> 12),
    '7.9E+18', '1e2', '0x10' and '5_000', in read_csv as in CAST (duckdb/duckdb#25824; no
    option turns that off), so integer columns are read as text and cast here: a value is
    good when it is digits with an optional sign and surrounding spaces AND casts to the type
    (range). Fast path: the cast printed back equals the text (canonical digits); only other
    texts meet the regular expression (~2x the cost of the typed read for the whole check,
    where ltrim(x, ' 0123456789+-') cost ~13x). -#}
{#- never NULL: a text that does not cast at all ('abc') is false, so int_bad finds its line -#}
{% macro int_ok(x, t) -%}
coalesce(TRY_CAST({{ x }} AS {{ t }})::VARCHAR = {{ x }}
 OR (regexp_full_match({{ x }}, ' *[+-]?[0-9]+ *') AND TRY_CAST({{ x }} AS {{ t }}) IS NOT NULL), false)
{%- endmacro %}
{% macro int_bad(x, t) -%}
({{ x }} IS NOT NULL AND NOT {{ int_ok(x, t) }})
{%- endmacro %}
{#- the reject reason of a bad text value -#}
{% macro int_reason(x, t) -%}
'cast: ' || CASE WHEN trim({{ x }}) = '' THEN 'required value missing'
     WHEN NOT regexp_full_match({{ x }}, ' *[+-]?[0-9]+ *') THEN 'not a plain integer (digits and an optional sign only): ' || {{ x }}
     ELSE 'integer out of range for {{ t }}: ' || {{ x }} END
{%- endmacro %}
