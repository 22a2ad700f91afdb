"""Two databases on the test server: the project's (``database_url``, filled here) and a staging target."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.pgserver import PgServer, fresh_database

SCHEMA = """
CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN');
CREATE TABLE "User" (
    id serial PRIMARY KEY,
    email text NOT NULL,
    name text,
    phone varchar(32),
    role "Role" NOT NULL DEFAULT 'USER'
);
CREATE UNIQUE INDEX "User_email_key" ON "User" (email);
CREATE TABLE "Post" (
    id serial PRIMARY KEY,
    "authorId" int NOT NULL REFERENCES "User" (id),
    "authorEmail" text,
    title text NOT NULL
);
INSERT INTO "User" (email, name, phone, role) VALUES
    ('ada@example.com', 'Ada Lovelace', '+44 20 7946 0001', 'ADMIN'),
    ('bob@example.com', 'Bob Marley', NULL, 'USER'),
    ('cy@example.com', NULL, '+1 212 555 0143', 'USER');
INSERT INTO "Post" ("authorId", "authorEmail", title) VALUES
    (1, 'ada@example.com', 'Notes on the engine'),
    (1, 'ada@example.com', 'Bernoulli numbers'),
    (2, 'bob@example.com', 'Redemption'),
    (3, NULL, 'Untitled');
"""


@pytest.fixture
def source_url(database_url: str) -> str:
    """The project's database: users and posts, one email per user repeated in Post.authorEmail."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SCHEMA)
    return database_url


@pytest.fixture
def target_url(pg_server: PgServer) -> Iterator[str]:
    """An empty second database on the same server (the staging database)."""
    with fresh_database(pg_server, "staging_") as url:
        yield url
