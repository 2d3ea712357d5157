"""duckpipe: out-of-core analysis of exchange order and trade files with embedded DuckDB."""
__version__ = "0.1.0"
