"""The rule catalog: one module per rule; the registry lists them (safemigrate.lint.registry)."""
