-- A renamed input file (old path -> new path, same content): its manifest row, store files, slices and
-- rejects move to the new path; no row is loaded again. Run inside the commit transaction.
CREATE OR REPLACE TEMP TABLE _dp_renamed AS SELECT * FROM ingest_manifest WHERE path = $old;
UPDATE _dp_renamed SET path = $new, source = $source, mtime = $mtime, fingerprint = $fp,
    ingested_at = now()::TIMESTAMP;
DELETE FROM ingest_manifest WHERE path = $old;
INSERT INTO ingest_manifest SELECT * FROM _dp_renamed;
DROP TABLE _dp_renamed;
UPDATE ingest_files SET manifest_path = $new WHERE manifest_path = $old;
UPDATE ingest_partitions SET manifest_path = $new WHERE manifest_path = $old;
UPDATE ingest_rejects SET path = $new WHERE path = $old;
