-- Report: the rows of one catalog table as a report shows them (aggregates, runs, liquidity).
-- Jinja: table (identifier), cols (the columns shown), order (list of {col, desc}: the sort,
-- then every column of the table as tie-breakers so that the order is the same on every run).
-- Identifiers are whitelisted by the ident filter.
SELECT {% for c in cols %}{{ c|ident }}{{ ', ' if not loop.last }}{% endfor %}

FROM {{ table|ident }}
ORDER BY {% for o in order %}{{ o.col|ident }}{{ ' DESC NULLS LAST' if o.desc }}{{ ', ' if not loop.last }}{% endfor %};
