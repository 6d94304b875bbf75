"""DuckDB + Parquet: the one place that opens a connection, the table schemas and the SQL files."""
