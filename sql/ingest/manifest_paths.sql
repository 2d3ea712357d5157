-- The input files committed so far (to recognise one reached again by another path).
SELECT path FROM ingest_manifest WHERE status = 'loaded' ORDER BY path
