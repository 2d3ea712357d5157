-- One store view over an explicit list of Parquet files (never a glob: only files the
-- manifest lists are visible). Event tables get `date` DATE from the hive path.
-- temp: a view of this connection only (an executor's connections each read their own dates).
CREATE OR REPLACE {{ "TEMP " if temp else "" }}VIEW {{ name | ident }} AS
{% if files %}
SELECT * FROM read_parquet({{ files | literal }},
    hive_partitioning = {{ hive | literal }},
{% if hive %}
    hive_types = {'date': 'DATE'},
{% endif %}
    union_by_name = true)
{% else %}
SELECT {% for n, t in columns %}NULL::{{ t }} AS {{ n | ident }}{{ ", " if not loop.last }}{% endfor %} WHERE false
{% endif %};
