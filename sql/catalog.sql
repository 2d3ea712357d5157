-- The catalog: bookkeeping tables of every concern, created when missing (idempotent).
{% include 'catalog/ingest.sql' %}
{% include 'catalog/engine.sql' %}
{% include 'catalog/results.sql' %}
