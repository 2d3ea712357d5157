-- Result table of the test pipeline "counts" (see unit_counts.sql).
CREATE TABLE IF NOT EXISTS unit_counts (
    security_code INTEGER, date DATE, order_rows BIGINT, trade_rows BIGINT, quote_rows BIGINT,
    quantity_sum HUGEINT, mean_price DOUBLE
);
