"""Alembic migrations of the index database (run by `vigil.db.index.Index.migrate`)."""
