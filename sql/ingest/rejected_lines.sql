-- One row per rejected physical line of the file just read, with its exact bytes (NULL for a
-- reject without a line: rows the parser lost). strict.lenient_accounted counts their bytes.
SELECT line, any_value(raw_line) AS raw_line
FROM _dp_rejects
GROUP BY line
