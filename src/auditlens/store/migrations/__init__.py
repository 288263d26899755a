"""Alembic migrations of the store (run with `auditlens db upgrade`)."""
