"""`safemigrate plan`: pending migrations, findings weighed by live sizes, preflight data checks (read only)."""
