-- Test pipeline "counts": one row per unit with row counts and a quantity sum.
-- Grain: one row per (security_code, date) of the batch. Reads: orders, trades, nbbo, _batch_units.
-- Writes: the result returned to the engine as table unit_counts. No parameters.
-- It exercises the engine (checkpoint, batches, exactly-once) independently of the analysis.
SELECT b.security_code, b.date,
       (SELECT count(*) FROM orders o WHERE o.date = b.date AND o.security_code = b.security_code) AS order_rows,
       (SELECT count(*) FROM trades t WHERE t.date = b.date AND t.security_code = b.security_code) AS trade_rows,
       (SELECT count(*) FROM nbbo q WHERE q.date = b.date AND q.security_code = b.security_code) AS quote_rows,
       (SELECT sum(o.quantity) FROM orders o WHERE o.date = b.date AND o.security_code = b.security_code) AS quantity_sum,
       (SELECT avg(o.price::DOUBLE) FROM orders o WHERE o.date = b.date AND o.security_code = b.security_code) AS mean_price
FROM _batch_units b
