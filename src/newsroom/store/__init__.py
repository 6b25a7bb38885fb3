"""Storage: SQLAlchemy tables, Alembic migrations, queries."""
