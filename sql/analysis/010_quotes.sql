-- step 1: valid quotes per unit (the "mid at time t" source)
-- grain: quote | reads: nbbo, a_units | writes: temp a_quotes
-- parameters: :read_dates DATE[] (store dates to read), :unit_securities INTEGER[],
--             :day_rollover TIME (only when day_rollover is set; default None = off)
-- SPEC §3: a quote is valid only when 0 < bid < offer; the mid at t is the last valid quote of the
-- same security with timestamp <= t on the same business date, ties on timestamp -> larger
-- sequence. Invalid quotes are dropped BEFORE picking the last one; one row per timestamp is kept
-- (the largest sequence) so that the ASOF joins of later steps have no ties to break.
{% from 'analysis/_business_date.sql' import business_date with context %}
CREATE OR REPLACE TEMP TABLE a_quotes AS
WITH q AS (
    SELECT n.security_code,
           {{ business_date('n', 'timestamp') }} AS date,
           n.timestamp, n.sequence, n.bidprice, n.offerprice
    FROM nbbo n
    WHERE list_contains($read_dates::DATE[], n.date)
      AND list_contains($unit_securities::INTEGER[], n.security_code)
      AND n.bidprice > 0 AND n.offerprice > n.bidprice
)
SELECT q.security_code, q.date, q.timestamp, q.sequence,
       (q.bidprice + q.offerprice) / 2.0 AS mid,
       (q.offerprice - q.bidprice)::DOUBLE AS spread
FROM q
JOIN a_units u ON u.security_code = q.security_code AND u.date = q.date
QUALIFY row_number() OVER (PARTITION BY q.security_code, q.date, q.timestamp
                           ORDER BY q.sequence DESC NULLS LAST) = 1;
