-- Per column of _dp_ref: values, and how many cast to BIGINT, DOUBLE, BOOLEAN.
SELECT {% for c in cols %}count({{ c | ident }}), count(TRY_CAST({{ c | ident }} AS BIGINT)), count(TRY_CAST({{ c | ident }} AS DOUBLE)), count(TRY_CAST({{ c | ident }} AS BOOLEAN)){{ ", " if not loop.last }}{% endfor %}

FROM _dp_ref;
