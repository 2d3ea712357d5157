-- placeholder until ingest defines its catalog tables
SELECT 1;
