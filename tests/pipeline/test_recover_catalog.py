"""The catalog questions `recover` asks (db/sql/recover_exists.sql), each answered yes and no."""

from __future__ import annotations

import psycopg

from safemigrate.pipeline.recover import _Catalog
from safemigrate.sql import model as m

SETUP = """
CREATE TYPE "Mood" AS ENUM ('happy', 'sad');
CREATE TABLE "Person" (id int PRIMARY KEY, name text NOT NULL, nick text, CONSTRAINT "Person_name_key" UNIQUE (name));
ALTER TABLE "Person" DROP COLUMN nick;
"""


def test_each_question_answers_yes_and_no(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SETUP)
        cat = _Catalog(conn, "public")
        person, nobody = m.Name("Person"), m.Name("Nobody")
        assert cat.table(person) and not cat.table(nobody)
        assert cat.column(person, "name") and not cat.column(person, "nick"), "a dropped column is gone"
        assert not cat.column(nobody, "name")
        assert cat.not_null(person, "name") and not cat.not_null(person, "id_missing")
        assert cat.constraint(person, "Person_name_key") and not cat.constraint(person, "Person_other_key")
        assert cat.type(m.Name("Mood")) and not cat.type(m.Name("Feeling"))
        assert cat.label(m.Name("Mood"), "sad") and not cat.label(m.Name("Mood"), "angry")
        assert cat.extension("plpgsql") and not cat.extension("no_such_extension")
        assert cat.table(m.Name("Person", "public")) and not cat.table(m.Name("Person", "elsewhere"))
