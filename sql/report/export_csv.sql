-- Report: CSV export of one whole table. The table name is checked against the whitelist by
-- the ident filter and the path is quoted by literal (COPY cannot bind a path).
-- BIGINT/UBIGINT columns are written as integers: order ids never pass through DOUBLE.
COPY (SELECT * FROM {{ table|ident }}) TO {{ path|literal }} (FORMAT csv, HEADER true);
