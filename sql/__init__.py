"""The SQL templates of every query of ingest and the analysis, shipped as package data."""
