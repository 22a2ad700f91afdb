"""Everything that talks to PostgreSQL: URLs and redaction, connections, the migration lock, catalog and data.

Only this package (with ``backup`` and ``clone``) imports psycopg; the linter never does.
"""

from importlib import resources


def load_sql(name: str) -> str:
    """The text of ``safemigrate/db/sql/<name>.sql`` (catalog queries live in .sql files)."""
    return resources.files(__name__).joinpath("sql").joinpath(f"{name}.sql").read_text(encoding="utf-8")
