-- placeholder until the analysis defines its result tables
SELECT 1;
