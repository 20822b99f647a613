"""Alembic migrations of the central database."""
