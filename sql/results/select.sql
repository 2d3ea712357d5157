-- The live rows of one result table over explicit Parquet files (never a glob: a file no committed
-- manifest entry names is invisible). `full` files hold only live units; `partial` files are filtered
-- to the (file, security_code, date) triples the manifest still points at them. Columns are cast to
-- the pipeline's DDL types, in its order. Used by the result views and by compaction.
-- hive_partitioning: every file sits under `date=YYYY-MM-DD/` and holds that date only, so a filter
-- on `date` skips other dates' files without opening them (a one-unit rerun's partials read ~50
-- footers per table otherwise). No folder above a workspace is named `x=y` (catalog.check_path).
{% set cols %}{% for n, t in columns %}CAST({{ n | ident }} AS {{ t }}) AS {{ n | ident }}{{ ", " if not loop.last }}{% endfor %}{% endset %}
{% if full %}
SELECT {{ cols }} FROM read_parquet({{ full | literal }}, hive_partitioning = true)
{% endif %}
{% if full and partial %}
UNION ALL
{% endif %}
{% if partial %}
SELECT {{ cols }} FROM read_parquet({{ partial | literal }}, hive_partitioning = true, filename = '_result_file') r
SEMI JOIN (VALUES {% for f, s, d in live %}({{ f | literal }}, {{ s | int }}, DATE {{ d | literal }}){{ ", " if not loop.last }}{% endfor %}) AS live(f, s, d)
    ON r._result_file = live.f AND r.security_code = live.s AND r.date = live.d
{% endif %}
{% if not full and not partial %}
SELECT {% for n, t in columns %}NULL::{{ t }} AS {{ n | ident }}{{ ", " if not loop.last }}{% endfor %} WHERE false
{% endif %}
