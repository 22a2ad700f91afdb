"""Awkward passwords never show: the redacted URL, free-text redaction and scrub (pure: no server).

Each password is built from marker words joined by one awkward character, so a leak of any piece
of it (not only of the whole password) is caught: no output may hold a marker word.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from safemigrate.db.url import DatabaseUrl, parse_database_url, redact_url
from safemigrate.errors import DatabaseUrlError

MARKERS = ("Alpha1", "Bravo2", "Charlie3")
AWKWARD = ("'", '"', " ", "<", ">", "@", ":", "/", "#", "?", "%", "\\", "é", "名", "%41", "@h:1/", "':@ <>\"")
WHATWG_SAFE = "!$%&'()*+,-._~"  # what a WHATWG URL serializer leaves unencoded in a userinfo
# Characters a URL parser (WHATWG for Prisma, urllib here) cannot take unencoded in a password.
MUST_ENCODE = ("/", "#", "?", "%")


def password_with(char: str) -> str:
    return char.join(MARKERS)


def url_texts(password: str) -> list[str]:
    """The URL with the password percent-encoded, in the WHATWG way (what Node's URL prints), and as
    written unencoded when a URL parser can read it so (Prisma accepts ' " blank < > @ : \\ there)."""
    texts = [f"postgresql://app:{quote(password, safe='')}@db.example.com:5432/app?schema=s"]
    if "%" not in password:  # a WHATWG serializer leaves "%" as it is: "%41" would read as "A"
        texts.append(f"postgresql://app:{quote(password, safe=WHATWG_SAFE)}@db.example.com:5432/app?schema=s")
    if not any(char in password for char in MUST_ENCODE):
        texts.append(f"postgresql://app:{password}@db.example.com:5432/app?schema=s")
    return texts


def assert_hidden(text: str) -> None:
    for marker in MARKERS:
        assert marker not in text, text


@pytest.mark.parametrize("char", AWKWARD)
def test_redacted_url_is_built_from_the_parsed_parts(char: str) -> None:
    password = password_with(char)
    for text in url_texts(password):
        url = parse_database_url(text)
        assert url.password == password and url.user == "app" and url.database == "app"
        assert url.redacted() == "postgresql://app:****@db.example.com:5432/app?schema=s"
        for shown in (str(url), repr(url), f"{url}", url.display(), url.with_database("app_clone").redacted()):
            assert_hidden(shown)


@pytest.mark.parametrize("char", AWKWARD)
def test_free_text_redaction_masks_the_whole_password(char: str) -> None:
    password = password_with(char)
    for url_text in url_texts(password):
        for message in (
            url_text,
            f"cannot connect with {url_text}: refused (ask admin@example.com)",
            f"DATABASE_URL='{url_text}'",
            f"<{url_text}> and then text",
            json.dumps({"url": url_text, "contact": "a@b.c"}),
            repr(url_text),
            f"line one\n{url_text}\nline three",
        ):
            redacted = redact_url(message)
            assert_hidden(redacted)
            assert "****" in redacted
            assert redact_url(redacted) == redacted  # idempotent


def test_free_text_redaction_keeps_the_rest_when_the_url_is_delimited() -> None:
    url_text = f"postgresql://app:{password_with(chr(39))}@h:5432/app"
    assert redact_url(json.dumps({"url": url_text, "contact": "a@b.c"})) == (
        '{"url": "postgresql://app:****@h:5432/app", "contact": "a@b.c"}'
    )
    assert redact_url('{"url":"postgresql://u:pw@h:5432","email":"a@b"}') == (
        '{"url":"postgresql://u:****@h:5432","email":"a@b"}'
    )
    assert redact_url("x 'postgresql://u3:Sec'ret99@h/d1' y") == "x 'postgresql://u3:****@h/d1' y"


@pytest.mark.parametrize("char", AWKWARD)
def test_scrub_masks_every_spelling_of_the_password(char: str) -> None:
    password = password_with(char)
    url = parse_database_url(url_texts(password)[0])
    spellings = {
        password,
        quote(password, safe=""),
        quote(password),
        quote(password, safe=WHATWG_SAFE),
        json.dumps(password)[1:-1],
        json.dumps(password, ensure_ascii=False)[1:-1],
    }
    for spelling in spellings:
        for message in (
            f"FATAL: something about {spelling} here",
            f"postgresql://app:{spelling}@db.example.com/app failed",
        ):
            assert_hidden(url.scrub(message))
    for document in ({"detail": f"with {password} in it"}, [password, "next"]):
        assert_hidden(url.scrub(json.dumps(document)))
        assert_hidden(url.scrub(json.dumps(document, ensure_ascii=False)))


def test_secret_query_arguments_are_masked_in_the_redacted_url() -> None:
    url = parse_database_url("postgresql://app@h/db?sslpassword=Alpha1%20Bravo2&schema=s&password=Charlie3#x")
    assert url.redacted() == "postgresql://app@h/db?sslpassword=****&schema=s&password=****#x"


def test_a_url_without_a_password_is_shown_as_written() -> None:
    for text in ("postgresql://app@h:5432/db?schema=s", "postgres://h/db", "postgresql://app@h/db"):
        assert parse_database_url(text).redacted() == text
    assert DatabaseUrl((), "public", "h", 5432, "db", "u", False, False, "").redacted() == "h:5432/db?schema=public"


@pytest.mark.parametrize(
    ("text", "database"),
    [
        ("postgresql://u4:pw@h:5432/app", "app"),
        ("postgresql://u4:pw@h:5432/my%20db/extra", "my db"),
    ],
)
def test_the_database_is_the_first_path_segment(text: str, database: str) -> None:
    url = parse_database_url(text)
    assert url.database == database and dict(url.params)["dbname"] == database


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("postgresql://u:pw@h/my%00db", "database name"),
        ("postgresql://u%00x:pw@h/db", "user name"),
        ("postgresql://u:Alpha1%00Bravo2@h/db", "password"),
        ("postgresql://u:pw@h/db?options=-c%00x", "query string"),
    ],
)
def test_a_nul_character_is_refused_in_one_clear_sentence(text: str, part: str) -> None:
    with pytest.raises(DatabaseUrlError) as info:
        parse_database_url(text, source="DATABASE_URL")
    message = str(info.value)
    assert f"The {part} in the database URL from DATABASE_URL holds a NUL character (%00)" in message
    assert "\n" not in message and "unterminated" not in message
    assert_hidden(message)


def test_tabs_and_newlines_are_dropped_as_url_parsers_drop_them() -> None:
    url = parse_database_url("postgresql://app:Alpha1\n\tBravo2 Charlie3@h/db\n")
    assert url.password == "Alpha1Bravo2 Charlie3"
    assert url.redacted() == "postgresql://app:****@h/db"
