-- Write the reference file with the inferred types and its trimmed header names.
COPY (
    SELECT {% for c, name, t in cols %}TRY_CAST({{ c | ident }} AS {{ t }}) AS {{ name }}{{ ", " if not loop.last }}{% endfor %}

    FROM _dp_ref
) TO {{ out | literal }} (FORMAT parquet, COMPRESSION zstd);
