"""Database URLs read the way Prisma reads them, turned into a libpq conninfo; and the one redaction helper.

Prisma's PostgreSQL URL (quaint, ``quaint/src/connector/postgres/url.rs``) is a ``postgresql://`` or
``postgres://`` URL whose query string mixes Prisma's own arguments with a few that libpq knows too.
What happens to each one here:

- ``schema`` selects the schema (default ``public``): it becomes the session's ``search_path`` and
  is where ``_prisma_migrations`` lives; libpq never sees it.
- ``pgbouncer``, ``connection_limit``, ``pool_timeout``, ``socket_timeout``, ``statement_cache_size``,
  ``max_connection_lifetime``, ``max_idle_connection_lifetime`` only tune Prisma's pool: dropped
  (``pgbouncer=true`` marks the URL as pooled).
- TLS: Prisma's ``sslcert`` is the *server's* root certificate (libpq calls it ``sslrootcert``),
  resolved against the schema's folder; ``sslaccept=strict`` asks for verification
  (``sslmode=verify-full``, with the system roots when no certificate is given); ``sslidentity``
  (a PKCS#12 client identity) has no libpq equivalent and is refused; ``sslpassword`` is its password.
- ``sslmode`` (Prisma knows disable / prefer / require, and libpq's own allow / verify-ca /
  verify-full are honoured; any other value, which Prisma reads as ``prefer``, is refused: a mistyped
  ``require`` would connect without TLS), ``connect_timeout``
  (Prisma's default of 5 seconds applies when absent), ``host`` (a Unix socket folder), ``options``,
  ``channel_binding`` and libpq's other keywords (``sslrootcert``, ``sslkey``, ``target_session_attrs``...)
  pass to libpq. ``application_name`` is replaced by ``safemigrate/<command>`` when connecting.
- Anything else is dropped, as Prisma drops it (listed in ``DatabaseUrl.ignored_params``).

The database is the URL's first path segment. A URL that names none (no path, or ``.../``) is
refused: Prisma's engines disagree on what it means (the schema engine's quaint reads no path as
``postgres``; the ``pg`` driver adapter, as libpq, connects to the database named like the user),
so safemigrate cannot know which database `prisma migrate deploy` changes.

Passwords never leave this module in clear. :meth:`DatabaseUrl.redacted` rebuilds the URL from its
parsed parts, whatever the password holds (Prisma accepts ``'`` ``"`` blanks ``<`` ``>`` and a raw
``@`` unencoded); :func:`redact_url` masks passwords in free text (messages, log lines, tracebacks)
the way a URL parser splits the userinfo, so odd characters widen the mask instead of leaking.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from safemigrate.errors import DatabaseUrlError

DEFAULT_SCHEMA = "public"
DEFAULT_PORT = 5432
PRISMA_CONNECT_TIMEOUT = "5"  # seconds; Prisma's default when the URL sets none (libpq's: wait forever)
SCHEMES = ("postgresql", "postgres")
MASK = "****"

# Prisma-only arguments that merely tune its connection pool or statement cache.
_POOL_ONLY = frozenset(
    {
        "connection_limit",
        "pool_timeout",
        "socket_timeout",
        "statement_cache_size",
        "max_connection_lifetime",
        "max_idle_connection_lifetime",
    }
)
# libpq keywords passed through as written (libpq 18's list minus those handled or replaced below).
_LIBPQ_PASSTHROUGH = frozenset(
    {
        "channel_binding",
        "client_encoding",
        "connect_timeout",
        "gssdelegation",
        "gssencmode",
        "gsslib",
        "hostaddr",
        "keepalives",
        "keepalives_count",
        "keepalives_idle",
        "keepalives_interval",
        "krbsrvname",
        "load_balance_hosts",
        "max_protocol_version",
        "min_protocol_version",
        "options",
        "passfile",
        "require_auth",
        "requirepeer",
        "service",
        "ssl_max_protocol_version",
        "ssl_min_protocol_version",
        "sslcertmode",
        "sslcompression",
        "sslcrl",
        "sslcrldir",
        "sslkey",
        "sslnegotiation",
        "sslrootcert",
        "sslsni",
        "target_session_attrs",
        "tcp_user_timeout",
    }
)
# Prisma takes these from the URL's own parts (or replaces them), never from the query string.
_IGNORED_IN_QUERY = frozenset(
    {"user", "password", "dbname", "port", "application_name", "fallback_application_name", "replication"}
)
# Arguments parse_database_url reads itself.
_READ_HERE = frozenset({"schema", "pgbouncer", "host", "sslmode", "sslcert", "sslaccept", "sslpassword"})
_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")

# Redaction. A URL as a URL parser splits it: the authority runs from "://" to the first "/", "?",
# "#" (or the line's end); its userinfo runs to the *last* "@" in it and the password starts after
# the first ":" of the userinfo. Blanks, quotes and "<>" are not terminators: Prisma accepts them
# unencoded in a password.
_URL_START = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://")
_AUTHORITY_END = re.compile(r"[/?#\r\n]")
# A URL quoted in the text ends at the closing quote when an "@" comes before that quote
# (JSON, repr, <url>) and a host[:port] stands between its last "@" and that quote; otherwise the
# quote is part of the password and the parser's end applies.
_CLOSING = {'"': '"', "'": "'", "<": ">", "`": "`"}
_HOST_PORT = re.compile(r"[A-Za-z0-9.\-_~%]+(?::[0-9]*)?|\[[0-9A-Fa-f:.]+\](?::[0-9]*)?")
# A tighter reading runs first, for a password with an unencoded "/" ("postgres://u:pa/ss@h/db": not
# a valid URL, but its tail must not leak either): up to the last "@" before a blank, quote, "?" or "#".
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@'\"<>]*:)(?P<secret>[^\s?#'\"<>]*)(?=@)")
_WHATWG_USERINFO_SAFE = "!$%&'()*+,-._~"  # what a WHATWG URL serializer (Node.js, Rust's url) leaves as is
_SECRET_KEYS = r"(?:pg)?password|sslpassword|api_key|oauth_client_secret|scram_client_key|scram_server_key"
_SECRET_KEY = re.compile(rf"(?i)^(?:{_SECRET_KEYS})$")
# key=value in conninfo strings, query strings and environment listings: password='a b', ?password=x&...
_KEY_VALUE = re.compile(
    rf"(?i)(?P<head>\b(?:{_SECRET_KEYS})\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s&;,'\"]+)"
)
# "password": "..." in JSON or TOML-like text.
_QUOTED_KEY = re.compile(rf"(?i)(?P<head>[\"']?\b(?:{_SECRET_KEYS})[\"']?\s*:\s*)(?P<secret>\"(?:[^\"\\]|\\.)*\")")


def _closing_quote(text: str, closer: str, start: int, end: int) -> int:
    """Index of the first ``closer`` in ``text[start:end]`` not escaped by a backslash, or -1."""
    index = start
    while index < end:
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == closer:
            return index
        index += 1
    return -1


def _mask_userinfo_passwords(text: str) -> str:
    """Every URL's password masked, found as a URL parser finds it (see ``_URL_START``)."""
    pieces: list[str] = []
    done = 0
    for start_match in _URL_START.finditer(text):
        start = start_match.end()
        if start_match.start() < done:
            continue  # inside a password masked already
        end_match = _AUTHORITY_END.search(text, start)
        end = end_match.start() if end_match else len(text)
        closer = _CLOSING.get(text[start_match.start() - 1]) if start_match.start() else None
        if closer is not None:
            close = _closing_quote(text, closer, start, end)
            last_at = text.rfind("@", start, close) if close != -1 else -1
            if last_at != -1 and _HOST_PORT.fullmatch(text, last_at + 1, close):
                end = close
        at = text.rfind("@", start, end)
        colon = text.find(":", start, at) if at != -1 else -1
        if colon == -1:
            continue
        pieces += [text[done : colon + 1], MASK]
        done = at
    return "".join(pieces) + text[done:]


def redact_url(text: str) -> str:
    """``text`` with every password replaced by ``****``: URLs (``://user:pw@``, whatever characters
    the password holds), conninfo and query strings (``password=...``, ``sslpassword=...``,
    ``api_key=...``) and JSON (``"password": "..."``)."""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    text = _mask_userinfo_passwords(text)
    text = _KEY_VALUE.sub(lambda m: m.group("head") + MASK, text)
    return _QUOTED_KEY.sub(lambda m: m.group("head") + f'"{MASK}"', text)


def _split_url(text: str) -> tuple[str, str, str, str]:
    """``scheme://``, userinfo (``""`` when none), host[:port] and the rest (path, query, fragment),
    split as urllib.parse.urlsplit (and parse_database_url) split a URL."""
    scheme_end = text.index("://") + 3
    end_match = _AUTHORITY_END.search(text, scheme_end)
    end = end_match.start() if end_match else len(text)
    userinfo, at, hostport = text[scheme_end:end].rpartition("@")
    return text[:scheme_end], userinfo if at else "", hostport, text[end:]


def _redact_query(rest: str) -> str:
    """Path, query and fragment with the value of every secret query argument masked."""
    before, question, after = rest.partition("?")
    if not question:
        return rest
    query, hash_sign, fragment = after.partition("#")
    arguments = []
    for argument in query.split("&"):
        key, equals, _value = argument.partition("=")
        arguments.append(f"{key}={MASK}" if equals and _SECRET_KEY.match(unquote(key).strip()) else argument)
    return before + "?" + "&".join(arguments) + hash_sign + fragment


def _conninfo_value(value: str) -> str:
    """A value quoted for a libpq conninfo string (single quotes; backslash and quote escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed migration URL. Never printed whole: ``str()`` and :meth:`redacted` hide the password."""

    params: tuple[tuple[str, str], ...] = field(repr=False)  # libpq keywords, password included
    schema: str
    host: str
    port: int
    database: str  # never empty: a URL that names no database is refused (see the module docstring)
    user: str
    has_password: bool
    pooled: bool
    pooled_reason: str  # why it counts as pooled: "" when it does not
    source: str = "--database-url"  # where the URL came from, for messages (never holds the password)
    ignored_params: tuple[str, ...] = ()  # query arguments neither Prisma nor libpq would use
    original: str = field(default="", repr=False, compare=False)

    @property
    def conninfo(self) -> str:
        """The libpq connection string for psycopg (holds the password: never show it)."""
        return " ".join(f"{key}={_conninfo_value(value)}" for key, value in self.params)

    @property
    def password(self) -> str:
        return next((value for key, value in self.params if key == "password"), "")

    def redacted(self) -> str:
        """The URL as written, password masked: rebuilt from its parsed parts, so no character in the
        password can stop the mask; secret query arguments (``sslpassword=``...) are masked too."""
        if not self.original:
            return self.display()
        scheme, userinfo, hostport, rest = _split_url(self.original)
        user, colon, _password = userinfo.partition(":")
        credentials = user + (f":{MASK}" if colon else "") + ("@" if userinfo else "")
        return scheme + credentials + hostport + _redact_query(rest)

    def display(self) -> str:
        """A short ``host:port/database?schema=`` form for messages."""
        where = f"{self.host}:{self.port}" if not self.host.startswith("/") else self.host
        return f"{where}/{self.database}?schema={self.schema}"

    def __str__(self) -> str:
        return self.redacted()

    def scrub(self, text: str) -> str:
        """``text`` redacted, and any literal occurrence of this URL's password masked too (defence in
        depth). The literal forms go first: the URL pass would otherwise cut a password in two."""
        secret = self.password
        if len(secret) >= 4:
            for form in sorted(self._password_forms(), key=len, reverse=True):
                text = text.replace(form, MASK)
        return redact_url(text)

    def _password_forms(self) -> set[str]:
        """The ways this URL's password can be spelled in a message: as written in the URL, decoded,
        percent-encoded (fully, urllib's way, a WHATWG URL serializer's way), JSON- and conninfo-escaped."""
        secret = self.password
        forms = {
            secret,
            quote(secret, safe=""),
            quote(secret),
            quote(secret, safe=_WHATWG_USERINFO_SAFE),
            json.dumps(secret, ensure_ascii=False)[1:-1],
            json.dumps(secret)[1:-1],
            secret.replace("\\", "\\\\").replace("'", "\\'"),
        }
        if self.original:
            written = _split_url(self.original)[1].partition(":")[2]
            if written:
                forms.add(written)
        return {form for form in forms if form}

    def with_database(self, database: str) -> DatabaseUrl:
        """The same server and credentials, another database (for clones and shadow databases)."""
        params = dict(self.params)
        params["dbname"] = database
        original = self.original
        if original:
            original = urlunsplit(urlsplit(original)._replace(path="/" + quote(database, safe="")))
        return replace(self, params=tuple(sorted(params.items())), database=database, original=original)

    def require_direct(self) -> DatabaseUrl:
        """Refuse a pooled URL for migration work (advisory locks and DDL need one real session)."""
        if self.pooled:
            raise DatabaseUrlError(
                f"The URL from {self.source} goes through a connection pooler ({self.pooled_reason}), "
                "which cannot hold Prisma's migration lock or a migration's session.",
                'Add directUrl = env("DIRECT_URL") to the datasource block with the direct (non-pooled) '
                "connection string, as Prisma Migrate needs too, or pass it with --database-url.",
            )
        return self


def _pooled_reason(host: str, port: int, pgbouncer: bool) -> str:
    if pgbouncer:
        return "pgbouncer=true"
    if "-pooler." in host.lower():
        return f"the host {host} is a pooler endpoint"
    if port == 6543:
        return "port 6543 is the transaction pooler's port"
    return ""


def _refuse_scheme(scheme: str, source: str) -> DatabaseUrlError:
    if scheme in ("prisma+postgres", "prisma"):
        return DatabaseUrlError(
            f"The URL from {source} is a Prisma Postgres / Accelerate URL ({scheme}://), which speaks "
            "Prisma's own HTTP protocol, not PostgreSQL's.",
            "Use the direct connection string (postgres://...) from the Prisma Console, as directUrl "
            "or with --database-url.",
        )
    return DatabaseUrlError(
        f"The URL from {source} uses the {scheme}:// scheme; safemigrate works with PostgreSQL URLs "
        "(postgresql:// or postgres://).",
        "Point the datasource (or --database-url) at a PostgreSQL database.",
    )


def _refuse_nul(source: str, parts: tuple[tuple[str, str], ...]) -> None:
    """A NUL (``%00``) cannot reach PostgreSQL (libpq's strings end at it): one clear sentence naming
    the part of the URL, never its value."""
    for part, value in parts:
        if "\x00" in value:
            raise DatabaseUrlError(
                f"The {part} in the database URL from {source} holds a NUL character (%00), "
                "which PostgreSQL does not accept.",
                "Remove the %00 from the URL.",
            )


def parse_database_url(text: str, *, source: str = "--database-url", base_dir: Path | None = None) -> DatabaseUrl:
    """Read ``text`` as Prisma reads a PostgreSQL URL. ``base_dir`` anchors a relative ``sslcert`` path
    (Prisma resolves it against the schema's folder). Raises DatabaseUrlError with a one-line reason."""
    text = re.sub(r"[\t\r\n]", "", text.strip())  # URL parsers drop tabs and newlines (WHATWG, urlsplit)
    if not text:
        raise DatabaseUrlError(f"The database URL from {source} is empty.", "Set it to a postgresql:// URL.")
    scheme_match = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*)://", text)
    if scheme_match is None:
        raise DatabaseUrlError(
            f"The database URL from {source} is not a URL (expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE).",
            "Check its value; percent-encode special characters in the user and password.",
        )
    scheme = scheme_match.group(1).lower()
    if scheme not in SCHEMES:
        raise _refuse_scheme(scheme, source)
    try:
        parts = urlsplit(text)
        port = parts.port or DEFAULT_PORT
        url_host = parts.hostname or ""
    except ValueError as err:
        raise DatabaseUrlError(
            f"The database URL from {source} has an invalid host or port (Prisma accepts one host:port).",
            "Percent-encode special characters (@ : / ? #) in the user and password.",
        ) from err
    if parts.netloc.rpartition("@")[2].count(",") > 0:
        raise DatabaseUrlError(
            f"The database URL from {source} lists several hosts; Prisma connects to one.",
            "Use a single host:port.",
        )

    query = parse_qsl(parts.query, keep_blank_values=True)
    args: dict[str, str] = {}
    for key, value in query:
        args[key] = value  # the last one wins, as in quaint's loop

    user = unquote(parts.username or "")
    password = unquote(parts.password or "")
    database = unquote(parts.path[1:].split("/", 1)[0]) if parts.path.startswith("/") else ""
    if not database:
        # quaint reads no name as "postgres", the pg driver adapter (as libpq) as the user's name
        raise DatabaseUrlError(
            f"The database URL from {source} names no database, and Prisma's engines disagree on which "
            "one that means (postgres, or the one named like the user).",
            "Add the database name to the URL: postgresql://USER:PASSWORD@HOST:PORT/DATABASE.",
        )
    _refuse_nul(
        source,
        (
            ("user name", user),
            ("password", password),
            ("database name", database),
            ("query string", "".join(key + value for key, value in query)),
        ),
    )

    schema = args.get("schema", DEFAULT_SCHEMA)
    if not schema:
        raise DatabaseUrlError(f"The database URL from {source} has an empty ?schema=.", "Name a schema or drop it.")

    pgbouncer_text = args.get("pgbouncer", "false")
    if pgbouncer_text not in ("true", "false"):
        raise DatabaseUrlError(
            f"The database URL from {source} has pgbouncer={pgbouncer_text!r}; Prisma accepts true or false."
        )
    if "sslidentity" in args:
        raise DatabaseUrlError(
            f"The database URL from {source} uses sslidentity (a PKCS#12 client certificate), which libpq cannot read.",
            "Convert it to PEM (openssl pkcs12 -in id.p12 -out client.crt -clcerts -nokeys; ... -nocerts -nodes) "
            "and set PGSSLCERT and PGSSLKEY; drop sslidentity/sslpassword from the URL you give safemigrate.",
        )

    host = args.get("host") or url_host or "localhost"
    params: dict[str, str] = {"host": host, "port": str(port)}
    if user:
        params["user"] = user
    if password:
        params["password"] = password
    if database:
        params["dbname"] = database
    ignored: list[str] = []
    for key, value in args.items():
        if key in _LIBPQ_PASSTHROUGH:
            params[key] = value
        elif key in _POOL_ONLY or key in _IGNORED_IN_QUERY or key in _READ_HERE:
            continue
        else:
            ignored.append(key)
    params.setdefault("connect_timeout", PRISMA_CONNECT_TIMEOUT)

    sslmode = args.get("sslmode", "prefer")
    if sslmode not in _SSLMODES:
        # Prisma (quaint) falls back to prefer: a mistyped require would connect without TLS when the
        # server does not offer it, for Prisma too. Refused rather than followed.
        raise DatabaseUrlError(
            f"The database URL from {source} has sslmode={sslmode!r}, which is not an SSL mode: Prisma would "
            "quietly use prefer, which connects without TLS when the server does not offer it.",
            "Write one of disable, prefer, require (or libpq's allow, verify-ca, verify-full), in lower case.",
        )
    strict = "sslaccept" in args and args["sslaccept"] != "accept_invalid_certs"  # unknown values mean strict
    if strict and sslmode in ("prefer", "require"):
        sslmode = "verify-full"
    certificate = args.get("sslcert")
    if certificate and "sslrootcert" not in params:
        cert_path = Path(certificate)
        if base_dir is not None and not cert_path.is_absolute():
            cert_path = base_dir / cert_path
        params["sslrootcert"] = str(cert_path)
    if strict and sslmode.startswith("verify") and "sslrootcert" not in params:
        params["sslrootcert"] = "system"
    params["sslmode"] = sslmode

    pooled_reason = _pooled_reason(host, port, pgbouncer_text == "true")
    return DatabaseUrl(
        tuple(sorted(params.items())),
        schema,
        host,
        port,
        database,
        user,
        bool(password),
        bool(pooled_reason),
        pooled_reason,
        source,
        tuple(ignored),
        text,
    )
