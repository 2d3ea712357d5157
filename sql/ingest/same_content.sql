-- Committed input files of the same table with the content of $p (format, size, whole-file CRC),
-- under another path: $p is then a renamed file or a copy, not new rows.
SELECT path FROM ingest_manifest
WHERE status = 'loaded' AND path <> $p AND table_name = $t AND format = $fmt
  AND size = $size AND content_hash = $crc
ORDER BY path
