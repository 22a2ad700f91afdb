"""Everything that talks to PostgreSQL: URLs and redaction, connections, the migration lock, catalog and data.

Only this package (with ``backup`` and ``clone``) imports psycopg; the linter never does.
"""
