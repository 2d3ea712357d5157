-- step 0: batch units and helpers
-- grain: batch | reads: (bound parameters) | writes: temp a_units, macro dp_local
-- parameters: :unit_securities INTEGER[], :unit_dates DATE[] (zipped: one unit per position)
-- profile: tz (the profile's time zone, a validated IANA name rendered as a literal)
-- SPEC §4 (a batch is a set of units computed by one execution of the templates), §3 (local time)
-- dp_local: ns since epoch UTC -> the profile's wall-clock TIMESTAMP (DST-aware, independent
-- of the session TimeZone setting).
CREATE OR REPLACE TEMP MACRO dp_local(ts) AS
    timezone({{ tz | literal }}, timezone('UTC', make_timestamp(ts // 1000)));

CREATE OR REPLACE TEMP TABLE a_units AS
SELECT DISTINCT
    unnest($unit_securities::INTEGER[]) AS security_code,
    unnest($unit_dates::DATE[]) AS date;
