"""Find the migration URL the way the Prisma CLI does (verified against Prisma 6.19's CLI bundle).

Order: ``--database-url``; else, when prisma.config.ts configures a driver adapter (Prisma 6: an
``adapter``, ``engine: "js"``, ``experimental: { adapter: true }``), a refusal: Prisma connects through
the adapter, whose URL is computed in TypeScript, and ignores the schema's url; else
``datasource.directUrl`` / ``datasource.url`` of prisma.config.ts when it sets one (Prisma 7 style:
a plain ``env("X")``, ``process.env.X`` or string literal, read statically; anything computed asks
for ``--database-url``); else the ``datasource`` block of the Prisma schema (for a schema folder, the
file holding it): ``directUrl`` when set (Prisma Migrate connects through it), else ``url``; each
``env("X")`` or a string literal.

Environment variables, as the Prisma CLI sees them:

- without prisma.config.ts (Prisma ≤ 6): the process environment, then the ``.env`` beside the
  nearest package.json at or above the project root, then the first existing of ``.env`` beside the
  schema, ``prisma/.env`` and ``.env``. A file never overrides a variable already set (the process
  environment wins, then the root file). ``${VAR}`` references inside a file are expanded as
  Prisma's dotenv-expand does. Prisma refuses a variable the schema ``.env`` defines with the *same*
  value as the root one ("There is a conflict between env vars in .env and prisma/.env"); so does
  safemigrate. Values that differ are not a conflict to Prisma: the root file's wins.
- with prisma.config.ts, Prisma loads no ``.env`` file itself ("Prisma config detected, skipping
  environment variable loading"): only the process environment, plus the project's ``.env`` when
  the config imports ``dotenv/config`` (or calls dotenv's ``config()``).

safemigrate never changes its own process environment: the variables are read into a mapping.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from safemigrate.db.url import DatabaseUrl, parse_database_url
from safemigrate.errors import DatabaseUrlError, ProjectError
from safemigrate.project import SUPPORTED_PROVIDERS, Project

_ENV_REF = re.compile(r"(.?)\$\{([a-zA-Z0-9_]+)?\}")  # Prisma's dotenvExpand pattern
_DATASOURCE_BLOCK = re.compile(r"^\s*datasource\s+\w+\s*\{", re.MULTILINE)
_SCHEMA_FIELD = re.compile(r"^\s*(?P<key>\w+)\s*=\s*(?P<value>.*?)\s*$")
_SCHEMA_ENV = re.compile(r'env\(\s*"(?P<name>(?:[^"\\]|\\.)*)"\s*\)')
_SCHEMA_STRING = re.compile(r'"(?P<value>(?:[^"\\]|\\.)*)"')
# prisma.config.ts: values read without running TypeScript.
_TS_STRING = r"""(?P<q>["'`])(?P<literal>(?:(?!(?P=q))[^\\]|\\.)*)(?P=q)"""
_TS_ENV_CALL = r"""env(?:<[^<>()]*>)?\(\s*(?P<eq>["'`])(?P<env_name>\w+)(?P=eq)\s*\)"""
_TS_PROCESS_ENV = r"""process\.env(?:\.(?P<dot_name>\w+)|\[\s*(?P<bq>["'`])(?P<bracket_name>\w+)(?P=bq)\s*\])"""
_TS_VALUE = re.compile(
    rf"(?:{_TS_ENV_CALL}|{_TS_PROCESS_ENV}|{_TS_STRING})\s*(?:!|\s+as\s+string)?\s*(?=,|\}}|$)", re.DOTALL
)
_TS_DATASOURCE = re.compile(r"(?<![\w.])datasource\s*:\s*\{")
_TS_KEY = r"(?<![\w.])[\"']?{key}[\"']?\s*:\s*"
# prisma.config.ts marks of a driver adapter (Prisma 6 "engine: js"): an ``adapter`` property or method
# (``adapter: () => ...``, ``async adapter() {...}``, shorthand ``{ adapter }``), ``engine: "js"``, or
# ``experimental: { adapter: true }``; ``adapter: false`` / ``undefined`` / ``null`` is none.
_TS_IMPORT = re.compile(r"""(?<![\w.$])import\b[^;"'`]*?\bfrom\s*["'][^"']*["']""")
_TS_ADAPTER = re.compile(
    r"""(?<![\w.$])(?:["']adapter["']\s*:|adapter\s*(?::|(?=[(<,}])))(?!\s*(?:false|undefined|null)\b)"""
)
_TS_JS_ENGINE = re.compile(r"""(?<![\w.$])["']?engine["']?\s*:\s*["'`]js["'`]""")
_DOTENV_CONFIG_IMPORT = re.compile(r"""(?:import\s*["']dotenv/config["']|require\(\s*["']dotenv/config["']\s*\))""")
_DOTENV_IMPORT = re.compile(r"""(?:from\s*["']dotenv["']|require\(\s*["']dotenv["']\s*\))""")
_DOTENV_CALL = re.compile(
    r"""(?<![\w.])(?:dotenv\.)?config\(\s*(?:\{\s*path\s*:\s*(?P<q>["'])(?P<path>[^"'`]*)(?P=q)\s*,?\s*\})?\s*\)"""
)


@dataclass(frozen=True)
class UrlField:
    """One URL field as written: ``env("NAME")`` (``env`` set) or a literal (``literal`` set)."""

    env: str | None
    literal: str | None
    field: str  # "url" | "directUrl"
    file: Path  # where it is written


@dataclass(frozen=True)
class Datasource:
    """The URL fields of a datasource (schema block or prisma.config.ts)."""

    file: Path
    provider: str | None
    url: UrlField | None
    direct_url: UrlField | None


@dataclass(frozen=True)
class PrismaEnv:
    """Variables as the Prisma CLI would see them, and where each came from (file or environment)."""

    values: Mapping[str, str]
    origin: Mapping[str, str]  # name -> "the environment" or a .env path as shown to the user


def _strip_comments(text: str, quotes: str, block_comments: bool) -> str:
    """``text`` without ``//`` (and ``/* */``) comments, leaving string literals (URLs hold ``//``) alone."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in quotes:
            j = i + 1
            while j < n and text[j] != char and not (char != "`" and text[j] == "\n"):
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif block_comments and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ProjectError(f"Cannot read {path}: {err}.", "Check the file's permissions and encoding.") from err


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _unescape(value: str) -> str:
    return json.loads(f'"{value}"') if "\\" in value else value


def read_schema_datasource(schema_path: Path) -> Datasource | None:
    """The ``datasource`` block of a schema file, or of the file holding it in a schema folder."""
    files = [schema_path] if schema_path.is_file() else sorted(schema_path.rglob("*.prisma"))
    for file in files:
        text = _strip_comments(_read(file), '"', block_comments=False)
        start = _DATASOURCE_BLOCK.search(text)
        if start is None:
            continue
        end = text.find("}", start.end())
        body = text[start.end() : end if end >= 0 else len(text)]
        fields: dict[str, UrlField] = {}
        provider: str | None = None
        for line in body.splitlines():
            match = _SCHEMA_FIELD.match(line)
            if match is None:
                continue
            key, value = match.group("key"), match.group("value")
            env = _SCHEMA_ENV.fullmatch(value)
            literal = _SCHEMA_STRING.fullmatch(value)
            if key == "provider" and literal:
                provider = _unescape(literal.group("value"))
            elif key in ("url", "directUrl"):
                if env:
                    fields[key] = UrlField(_unescape(env.group("name")), None, key, file)
                elif literal:
                    fields[key] = UrlField(None, _unescape(literal.group("value")), key, file)
                else:
                    raise DatabaseUrlError(
                        f'{file}: the datasource\'s {key} is neither env("NAME") nor a string.',
                        "Fix the schema (Prisma would refuse it too), or pass --database-url.",
                    )
        return Datasource(file, provider, fields.get("url"), fields.get("directUrl"))
    return None


def _ts_field(body: str, key: str, file: Path) -> UrlField | None:
    match = re.search(_TS_KEY.format(key=key), body)
    if match is None:
        return None
    value = _TS_VALUE.match(body, match.end())
    if value is not None:
        name = value.group("env_name") or value.group("dot_name") or value.group("bracket_name")
        if name:
            return UrlField(name, None, key, file)
        if not (value.group("q") == "`" and "${" in value.group("literal")):
            return UrlField(None, value.group("literal"), key, file)
    raise DatabaseUrlError(
        f"{file.name} computes datasource.{key} with an expression safemigrate cannot evaluate without running "
        "TypeScript.",
        'Pass the URL with --database-url, or write it as env("NAME").',
    )


def read_config_datasource(config_path: Path) -> Datasource | None:
    """``datasource: { url, directUrl }`` of prisma.config.ts, read statically; None when it has none."""
    text = _strip_comments(_read(config_path), "\"'`", block_comments=True)
    start = _TS_DATASOURCE.search(text)
    if start is None:
        return None
    depth, end = 1, start.end()
    while end < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        end += 1
    body = text[start.end() : end - 1]
    url = _ts_field(body, "url", config_path)
    direct = _ts_field(body, "directUrl", config_path)
    if url is None and direct is None:
        return None
    return Datasource(config_path, None, url, direct)


def config_adapter(config_path: Path) -> str | None:
    """What in prisma.config.ts (read statically) makes Prisma connect through a driver adapter:
    ``"adapter"`` or ``'engine: "js"'``; None when it configures none."""
    text = _TS_IMPORT.sub("", _strip_comments(_read(config_path), "\"'`", block_comments=True))
    if _TS_ADAPTER.search(text):
        return "adapter"
    if _TS_JS_ENGINE.search(text):
        return 'engine: "js"'
    return None


def _config_dotenv(config_path: Path, root: Path) -> Path | None:
    """The .env file prisma.config.ts loads through dotenv (its cwd is the project root), if any."""
    text = _strip_comments(_read(config_path), "\"'`", block_comments=True)
    if _DOTENV_CONFIG_IMPORT.search(text):
        return root / ".env"
    if _DOTENV_IMPORT.search(text):
        call = _DOTENV_CALL.search(text)
        if call is not None:
            return root / (call.group("path") or ".env")
    return None


def _expand(value: str, lookup: Callable[[str], str], depth: int = 0) -> str:
    """Prisma's dotenvExpand: ``${NAME}`` replaced (recursively), ``\\${NAME}`` kept literally."""
    if depth > 32:
        return value
    result = value
    for match in _ENV_REF.finditer(value):
        prefix, name = match.group(1), match.group(2) or ""
        whole = match.group(0)
        if prefix == "\\":
            result = result.replace(whole, whole.replace("\\$", "$", 1), 1)
        else:
            result = result.replace(whole[len(prefix) :], _expand(lookup(name), lookup, depth + 1), 1)
    return result


def _dotenv_file(path: Path) -> dict[str, str]:
    try:
        raw = dotenv_values(path, interpolate=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ProjectError(f"Cannot read {path}: {err}.", "Check the file's permissions and encoding.") from err
    return {key: value for key, value in raw.items() if value is not None}


def _load_env_file(path: Path, values: dict[str, str], origin: dict[str, str], shown: str) -> dict[str, str]:
    """Load one file as Prisma's tryLoadEnvs does (no override, then expansion); its effective values."""
    raw = _dotenv_file(path)
    for key, value in raw.items():
        if key not in values:
            values[key] = value
            origin[key] = shown

    def lookup(name: str) -> str:
        return values[name] if name in values else raw.get(name, "")

    parsed = {key: _expand(values[key], lookup) for key in raw}
    values.update(parsed)
    return parsed


def _root_env_path(root: Path) -> Path | None:
    """The .env beside the nearest package.json at or above ``root`` (not Prisma's generated client's)."""
    for folder in (root.resolve(), *root.resolve().parents):
        package = folder / "package.json"
        if package.is_file():
            try:
                data = json.loads(package.read_text(encoding="utf-8-sig"))
            except (OSError, ValueError):
                continue  # Prisma skips an unreadable package.json and keeps looking
            if isinstance(data, dict) and data.get("name") == ".prisma/client":
                continue
            env = folder / ".env"
            return env if env.is_file() else None
    return None


def prisma_env(project: Project, environ: Mapping[str, str]) -> PrismaEnv:
    """The variables the Prisma CLI would see when run from the project root."""
    values = dict(environ)
    origin = dict.fromkeys(environ, "the environment")
    root = project.root
    if project.prisma_config is not None:
        dotenv = _config_dotenv(project.prisma_config, root)
        if dotenv is not None and dotenv.is_file():
            for key, value in _dotenv_file(dotenv).items():
                if key not in values:
                    values[key] = value
                    origin[key] = _shown(dotenv, root)
        return PrismaEnv(values, origin)
    root_env = _root_env_path(root)
    candidates = [root / "prisma" / ".env", root / ".env"]
    if project.schema_path is not None:
        candidates.insert(0, project.schema_path.parent / ".env")
    schema_env = next((c for c in candidates if c.is_file()), None)
    same = root_env is not None and schema_env is not None and root_env.resolve() == schema_env.resolve()
    root_parsed: dict[str, str] = {}
    if root_env is not None:
        root_parsed = _load_env_file(root_env, values, origin, _shown(root_env, root))
    if schema_env is not None and not same:
        if root_env is not None:
            schema_raw = _dotenv_file(schema_env)
            conflicts = [key for key, value in schema_raw.items() if key in root_parsed and root_parsed[key] == value]
            if conflicts:
                raise DatabaseUrlError(
                    f"There is a conflict between env vars in {_shown(root_env, root)} and "
                    f"{_shown(schema_env, root)}: {', '.join(conflicts)} (Prisma refuses this too).",
                    f"Move the contents of {_shown(schema_env, root)} to {_shown(root_env, root)}, as Prisma suggests.",
                )
        _load_env_file(schema_env, values, origin, _shown(schema_env, root))
    return PrismaEnv(values, origin)


def _missing(name: str, where: str, project: Project) -> DatabaseUrlError:
    if project.prisma_config is not None:
        hint = (
            f"Set {name} in the environment; Prisma does not load .env files when {project.prisma_config.name} "
            "exists unless it imports 'dotenv/config'. Or pass --database-url."
        )
    else:
        hint = f"Set {name} in the environment or in .env (beside package.json or the schema), or pass --database-url."
    return DatabaseUrlError(f"Environment variable not found: {name} ({where}).", hint)


def _from_field(field: UrlField, project: Project, env: PrismaEnv | None, base_dir: Path) -> DatabaseUrl:
    where = f"{field.field} in {_shown(field.file, project.root)}"
    if field.literal is not None:
        return parse_database_url(field.literal, source=f"the {where}", base_dir=base_dir)
    assert field.env is not None and env is not None
    if field.env not in env.values:
        raise _missing(field.env, where, project)
    source = f"{field.env} ({where}; value from {env.origin.get(field.env, 'the environment')})"
    return parse_database_url(env.values[field.env], source=source, base_dir=base_dir)


def _certificate_base(project: Project, datasource: Datasource) -> Path:
    """Where a relative ``sslcert`` points from: Prisma resolves it against the schema's folder."""
    if datasource.file.suffix == ".prisma":
        return datasource.file.parent
    if project.schema_path is not None:
        return project.schema_path.parent if project.schema_path.is_file() else project.schema_path
    return project.root


def resolve_database_url(
    project: Project | None,
    *,
    database_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    for_migration: bool = True,
) -> DatabaseUrl:
    """The URL safemigrate connects with, found as Prisma Migrate finds it.

    ``environ`` defaults to the process environment (read, never changed). With ``for_migration``, a
    pooled URL is refused (naming directUrl). Raises DatabaseUrlError with a one-line reason."""
    if database_url is not None:
        url = parse_database_url(database_url, source="--database-url")
        return url.require_direct() if for_migration else url
    if project is None:
        raise DatabaseUrlError("No database URL given.", "Pass --database-url, or run in a Prisma project.")
    environ = os.environ if environ is None else environ
    adapter = config_adapter(project.prisma_config) if project.prisma_config is not None else None
    if adapter is not None:
        assert project.prisma_config is not None
        raise DatabaseUrlError(
            f"{_shown(project.prisma_config, project.root)} configures a driver adapter ({adapter}), so Prisma "
            "connects through it, with a URL safemigrate cannot read without running TypeScript, and does not "
            "use the schema's url.",
            "Pass --database-url with the URL the adapter connects with; the adapter ignores ?schema= (Prisma "
            "uses the schema the session starts in), so add ?schema= only to name that schema.",
        )
    datasource = read_config_datasource(project.prisma_config) if project.prisma_config is not None else None
    if datasource is None and project.schema_path is not None:
        datasource = read_schema_datasource(project.schema_path)
    if datasource is None:
        raise DatabaseUrlError(
            f"No datasource with a URL found in the Prisma project at {project.root}.",
            'Add url = env("DATABASE_URL") to the datasource (or datasource.url to prisma.config.ts), '
            "or pass --database-url.",
        )
    if datasource.provider is not None and datasource.provider not in SUPPORTED_PROVIDERS:
        raise DatabaseUrlError(
            f'The datasource in {_shown(datasource.file, project.root)} uses provider "{datasource.provider}"; '
            "safemigrate supports PostgreSQL only.",
            "Point safemigrate at a PostgreSQL project, or pass --database-url.",
        )
    field = datasource.direct_url or datasource.url
    if field is None:
        raise DatabaseUrlError(
            f"The datasource in {_shown(datasource.file, project.root)} sets no url (Prisma 7 keeps it in "
            "prisma.config.ts).",
            "Set datasource.url in prisma.config.ts, or pass --database-url.",
        )
    needs_env = any(f is not None and f.env is not None for f in (datasource.url, datasource.direct_url))
    env = prisma_env(project, environ) if needs_env else None
    if datasource.direct_url is not None and datasource.url is not None and datasource.url.env is not None:
        assert env is not None
        if datasource.url.env not in env.values:  # Prisma validates every env() of the datasource
            raise _missing(datasource.url.env, f"url in {_shown(datasource.url.file, project.root)}", project)
    url = _from_field(field, project, env, _certificate_base(project, datasource))
    return url.require_direct() if for_migration else url
