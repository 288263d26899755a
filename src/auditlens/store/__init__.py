"""The auditlens store: metadata tables in SQL (SQLite or PostgreSQL) + a Parquet event lake."""
