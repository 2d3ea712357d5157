-- Committed input files of the same table with the content of $p under another path: $p is then
-- a renamed file or a copy, not new rows. Content: format, size, whole-file CRC, the fingerprint
-- (first and last MiB) and what the load made of it (rows loaded and rejected), so that a CRC32
-- collision alone never passes for the same file.
SELECT path, size, mtime, fingerprint FROM ingest_manifest
WHERE status = 'loaded' AND path <> $p AND table_name = $t AND format = $fmt
  AND size = $size AND content_hash = $crc AND fingerprint = $fp
  AND rows_loaded = $loaded AND rows_rejected = $rejected
ORDER BY path
