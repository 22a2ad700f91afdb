"""Throwaway databases (clones) for rehearsals, and the local PostgreSQL servers behind some of them."""
