"""safemigrate: safe Prisma migrations on PostgreSQL."""

__version__ = "0.1.0"
