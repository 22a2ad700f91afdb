"""Prisma's URL conventions and the one redaction helper (pure: no server)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safemigrate.db.url import DatabaseUrl, parse_database_url, redact_url
from safemigrate.errors import DatabaseUrlError

SECRET = "s3cr#t/p@ss:w rd"
ENCODED = "s3cr%23t%2Fp%40ss%3Aw%20rd"


def params(url: DatabaseUrl) -> dict[str, str]:
    return dict(url.params)


def test_prisma_url_becomes_libpq_conninfo() -> None:
    url = parse_database_url(
        f"postgresql://app%40corp:{ENCODED}@db.example.com:6000/my%20db?schema=billing&sslmode=require"
        "&connection_limit=5&pool_timeout=3&socket_timeout=9&statement_cache_size=0&connect_timeout=12"
        "&application_name=web&options=-c%20work_mem%3D64MB&target_session_attrs=read-write&unknown_thing=1"
    )
    assert (url.schema, url.host, url.port, url.database, url.user) == (
        "billing",
        "db.example.com",
        6000,
        "my db",
        "app@corp",
    )
    assert url.has_password and url.password == SECRET and not url.pooled
    assert params(url) == {
        "host": "db.example.com",
        "port": "6000",
        "user": "app@corp",
        "password": SECRET,
        "dbname": "my db",
        "sslmode": "require",
        "connect_timeout": "12",
        "options": "-c work_mem=64MB",
        "target_session_attrs": "read-write",
    }
    assert url.ignored_params == ("unknown_thing",)
    assert "schema" not in url.conninfo and "connection_limit" not in url.conninfo


def test_defaults_follow_prisma() -> None:
    url = parse_database_url("postgres://u@/db")
    assert (url.schema, url.host, url.port) == ("public", "localhost", 5432)
    assert params(url)["connect_timeout"] == "5"  # Prisma's default; libpq would wait forever
    assert params(url)["sslmode"] == "prefer"
    assert not url.has_password and "password" not in params(url)


def test_unix_socket_host_parameter_and_ipv6() -> None:
    socket_url = parse_database_url("postgresql://u:p@localhost/db?host=%2Fvar%2Frun%2Fpostgresql")
    assert socket_url.host == "/var/run/postgresql" and params(socket_url)["host"] == "/var/run/postgresql"
    assert parse_database_url("postgresql://u:p@[2001:db8::1]:5433/db").host == "2001:db8::1"


def test_prisma_tls_arguments(tmp_path: Path) -> None:
    # Prisma's sslcert is the server's root certificate, relative to the schema's folder.
    url = parse_database_url("postgresql://u:p@h/db?sslmode=require&sslcert=certs/ca.pem", base_dir=tmp_path)
    assert params(url)["sslrootcert"] == str(tmp_path / "certs" / "ca.pem")
    assert "sslcert" not in params(url) and params(url)["sslmode"] == "require"
    strict = parse_database_url("postgresql://u:p@h/db?sslmode=require&sslaccept=strict")
    assert params(strict)["sslmode"] == "verify-full" and params(strict)["sslrootcert"] == "system"
    for typo in ("requre", "REQUIRE", ""):
        # Prisma would use prefer: a mistyped require must not quietly connect without TLS.
        with pytest.raises(DatabaseUrlError, match=f"sslmode='{typo}', which is not an SSL mode") as typed:
            parse_database_url(f"postgresql://u:topsecret@h/db?sslmode={typo}")
        assert "topsecret" not in typed.value.message + typed.value.hint
    libpq = parse_database_url("postgresql://u:p@h/db?sslmode=verify-ca&sslrootcert=/ca.pem&sslkey=/k.pem")
    assert (params(libpq)["sslmode"], params(libpq)["sslrootcert"], params(libpq)["sslkey"]) == (
        "verify-ca",
        "/ca.pem",
        "/k.pem",
    )
    with pytest.raises(DatabaseUrlError, match="sslidentity") as info:
        parse_database_url("postgresql://u:p@h/db?sslidentity=id.p12&sslpassword=topsecret")
    assert "topsecret" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("postgresql://u:p@ep-cool-name-123-pooler.eu-central-1.aws.neon.tech/db", "pooler endpoint"),
        ("postgresql://u:p@aws-0-eu-central-1.pooler.supabase.com:6543/postgres", "port 6543"),
        ("postgresql://u:p@db.internal:5432/app?pgbouncer=true", "pgbouncer=true"),
    ],
)
def test_pooled_urls_are_refused_for_migrations_naming_direct_url(text: str, reason: str) -> None:
    url = parse_database_url(text, source="DATABASE_URL")
    assert url.pooled and reason in url.pooled_reason
    with pytest.raises(DatabaseUrlError) as info:
        url.require_direct()
    message = str(info.value)
    assert "directUrl" in message and "DATABASE_URL" in message and reason in message
    assert "\n" not in message and ":p@" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prisma+postgres://accelerate.prisma-data.net/?api_key=eyJhbGciOi", "Prisma Postgres / Accelerate"),
        ("prisma://aws-us-east-1.prisma-data.com/?api_key=abc", "Prisma Postgres / Accelerate"),
        ("mysql://u:p@h/db", "mysql:// scheme"),
        ("file:./dev.db", "not a URL"),
        ("", "is empty"),
        ("postgresql://u:p@h:notaport/db", "invalid host or port"),
        ("postgresql://u:p@h1:5432,h2:5432/db", "invalid host or port"),
        ("postgresql://u:p@h1,h2/db", "several hosts"),
        ("postgresql://u:p@h/db?pgbouncer=yes", "pgbouncer='yes'"),
        ("postgresql://u:p@h/db?schema=", "empty ?schema="),
    ],
)
def test_refusals_are_one_line_and_never_show_secrets(text: str, expected: str) -> None:
    with pytest.raises(DatabaseUrlError) as info:
        parse_database_url(text)
    message = str(info.value)
    assert expected in message and "\n" not in message
    for secret in (":p@", "eyJhbGciOi", "api_key=abc"):
        assert secret not in message


def test_str_and_repr_hide_the_password() -> None:
    url = parse_database_url(f"postgresql://app:{ENCODED}@h:5432/db?schema=s")
    for shown in (str(url), repr(url), url.redacted(), url.display(), f"{url}"):
        assert SECRET not in shown and ENCODED not in shown
    assert url.redacted() == "postgresql://app:****@h:5432/db?schema=s"


def test_with_database_keeps_server_and_credentials() -> None:
    url = parse_database_url(f"postgresql://app:{ENCODED}@h:5432/db?schema=s")
    other = url.with_database("db_clone")
    assert params(other)["dbname"] == "db_clone" and other.password == SECRET and other.schema == "s"
    assert other.redacted() == "postgresql://app:****@h:5432/db_clone?schema=s"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://u:hunter22@h/db", "postgresql://u:****@h/db"),
        ("postgres://u:p@ss@word@h:5432/db?x=1", "postgres://u:****@h:5432/db?x=1"),
        ("postgres://u:pa/ss@h:5432/db", "postgres://u:****@h:5432/db"),
        ("postgres://u:pw@h/db?note=a@b", "postgres://u:****@h/db?note=a@b"),
        ("see prisma+postgres://x:tok@h/?api_key=abc123 now", "see prisma+postgres://x:****@h/?api_key=**** now"),
        ("host=h password=hunter22 dbname=d", "host=h password=**** dbname=d"),
        ("host=h password='hun ter' dbname=d", "host=h password=**** dbname=d"),
        ("postgresql://u@h/db?password=hunter22&sslpassword=x", "postgresql://u@h/db?password=****&sslpassword=****"),
        ('{"password": "hunter22", "user": "u"}', '{"password": "****", "user": "u"}'),
        ("PGPASSWORD=hunter22 psql", "PGPASSWORD=**** psql"),
        ("no secret postgresql://h:5432/db?email=a@b here", "no secret postgresql://h:5432/db?email=a@b here"),
    ],
)
def test_redact_url(text: str, expected: str) -> None:
    assert redact_url(text) == expected
    assert redact_url(expected) == expected  # idempotent


@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=4, max_size=30)
)
def test_any_password_is_redacted_from_its_url(password: str) -> None:
    from urllib.parse import quote

    # NUL is refused when parsing (tests/db/test_url_passwords.py); anything else reads and never shows.
    text = f"error while using postgresql://user:{quote(password, safe='')}@db.example.com:5432/app?schema=x"
    url = parse_database_url(text[len("error while using ") :])
    assert url.password == password
    assert url.redacted() == "postgresql://user:****@db.example.com:5432/app?schema=x"
    redacted = url.scrub(text)
    assert quote(password, safe="") not in redacted.replace("****", "")
    assert "user:****@db.example.com" in redacted
    assert redact_url(text) == "error while using " + url.redacted()
