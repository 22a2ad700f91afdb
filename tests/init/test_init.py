"""`safemigrate init` on a generated Prisma project: the files it writes, that a second run writes
nothing, that the user's scripts and formatting survive, and the command line's report."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from safemigrate.cli.init import init
from safemigrate.config import Config, load_config
from safemigrate.errors import InputError, ProjectError
from safemigrate.init import NPM_SCRIPTS, apply_init, plan_init
from safemigrate.init.package_json import add_scripts, detect_layout
from safemigrate.lint.registry import rule_names
from tests.init.conftest import PACKAGE_JSON

ALL_FILES = (
    "safemigrate.toml",
    "package.json",
    ".gitignore",
    ".github/workflows/safemigrate-pr.yml",
    ".github/workflows/safemigrate-deploy.yml",
    ".pre-commit-config.yaml",
)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _init(project: Path, **options: object) -> dict[str, str]:
    plan = plan_init(project, **options)  # type: ignore[arg-type]
    apply_init(plan)
    return {c.path.relative_to(plan.repo_root).as_posix(): c.action for c in plan.changes}


def test_init_writes_the_config_the_scripts_the_gitignore_and_the_ci_files(prisma_project: Path) -> None:
    actions = _init(prisma_project, ci="github", pre_commit=True)
    assert actions == {
        "safemigrate.toml": "create",
        "package.json": "update",
        ".gitignore": "create",
        ".github/workflows/safemigrate-pr.yml": "create",
        ".github/workflows/safemigrate-deploy.yml": "create",
        ".pre-commit-config.yaml": "create",
    }
    scripts = json.loads((prisma_project / "package.json").read_text())["scripts"]
    assert scripts["db:migrate:safe"] == "safemigrate migrate"
    assert scripts["db:rollback"] == "safemigrate rollback --interactive"
    assert scripts["db:clone:to-staging"] == 'safemigrate clone --to "$STAGING_DATABASE_URL"'
    assert set(NPM_SCRIPTS) <= set(scripts)
    assert (prisma_project / ".gitignore").read_text() == ".safemigrate/\n"


def test_a_second_init_changes_no_byte_and_says_so(prisma_project: Path) -> None:
    _init(prisma_project, ci="github", pre_commit=True)
    before = _snapshot(prisma_project)
    second = plan_init(prisma_project, ci="github", pre_commit=True)
    apply_init(second)
    assert _snapshot(prisma_project) == before
    assert second.writes == ()
    assert {c.action for c in second.changes} == {"unchanged"}


def test_the_written_config_loads_and_holds_exactly_the_defaults(prisma_project: Path) -> None:
    _init(prisma_project)
    loaded = load_config(prisma_project, None, rule_names())
    assert loaded.path == prisma_project / "safemigrate.toml"
    assert dataclasses.replace(loaded, path=None) == Config()
    text = (prisma_project / "safemigrate.toml").read_text()
    sections = ("[lint]", "[database]", "[backup]", "[backup.retention]", "[dry_run]", "[plan]", "[clone]")
    for section in (*sections, "# [notifications]", "# [[notifications.webhooks]]"):
        assert f"\n{section}" in text


def test_an_existing_script_of_the_same_name_is_kept_and_reported_unless_force(prisma_project: Path) -> None:
    plan = plan_init(prisma_project)
    apply_init(plan)
    package = next(c for c in plan.changes if c.path.name == "package.json")
    assert 'kept db:lint: "echo our own lint" (--force replaces it)' in package.notes
    scripts = json.loads((prisma_project / "package.json").read_text())["scripts"]
    assert scripts["db:lint"] == "echo our own lint"
    assert list(scripts)[:3] == ["dev", "build", "db:lint"]  # the team's scripts first, in their order

    forced = plan_init(prisma_project, force=True)
    apply_init(forced)
    package = next(c for c in forced.changes if c.path.name == "package.json")
    assert package.action == "update" and package.notes == ('replaced db:lint (was "echo our own lint")',)
    scripts = json.loads((prisma_project / "package.json").read_text())["scripts"]
    assert scripts["db:lint"] == "safemigrate lint"
    assert list(scripts)[:3] == ["dev", "build", "db:lint"]  # replaced in place


def test_package_json_keeps_its_indent_key_order_and_other_bytes(prisma_project: Path) -> None:
    _init(prisma_project)
    text = (prisma_project / "package.json").read_text()
    added = "".join(f'        "{name}": {json.dumps(cmd)},\n' for name, cmd in NPM_SCRIPTS.items() if name != "db:lint")
    expected = PACKAGE_JSON.replace('"echo our own lint"\n', '"echo our own lint",\n' + added.rstrip(",\n") + "\n")
    assert text == expected


@pytest.mark.parametrize(
    ("original", "indent", "newline", "trailing"),
    [
        ('{\n\t"name": "x",\n\t"scripts": {\n\t\t"dev": "vite"\n\t}\n}\n', "\t", "\n", "\n"),
        ('{\r\n  "name": "x",\r\n  "scripts": {}\r\n}\r\n', "  ", "\r\n", "\r\n"),
        ('{\n    "name": "x"\n}', "    ", "\n", ""),
        ('{"name":"x","scripts":{"dev":"vite"}}\n', None, "\n", "\n"),
    ],
    ids=["tabs", "crlf", "no-trailing-newline-no-scripts", "one-line"],
)
def test_layouts_are_written_back_as_found(
    original: str, indent: str | None, newline: str, trailing: str, tmp_path: Path
) -> None:
    layout = detect_layout(original)
    assert (layout.indent, layout.newline, layout.trailing) == (indent, newline, trailing)
    update = add_scripts(original, {"db:lint": "safemigrate lint"}, force=False, where=tmp_path / "package.json")
    data = json.loads(update.text)
    assert data["scripts"]["db:lint"] == "safemigrate lint" and data["name"] == "x"
    assert update.text.endswith("}" + trailing)
    if indent is not None:
        assert f'{newline}{indent}"name": "x",{newline}' in update.text
        assert ("\r\n" in update.text) == (newline == "\r\n")
    else:
        assert "\n" not in update.text.rstrip("\n")
    again = add_scripts(update.text, {"db:lint": "safemigrate lint"}, force=False, where=tmp_path / "package.json")
    assert again.text == update.text and not again.changed


def test_a_package_json_with_a_byte_order_mark_keeps_it(prisma_project: Path) -> None:
    package = prisma_project / "package.json"
    package.write_bytes(b"\xef\xbb\xbf" + PACKAGE_JSON.encode())
    actions = _init(prisma_project)
    assert actions["package.json"] == "update"
    written = package.read_bytes()
    assert written.startswith(b"\xef\xbb\xbf{\n") and written.count(b"\xef\xbb\xbf") == 1
    assert set(NPM_SCRIPTS) <= set(json.loads(written.decode("utf-8-sig"))["scripts"])
    assert _init(prisma_project)["package.json"] == "unchanged"


def test_package_json_without_scripts_gets_them_and_the_gitignore_line_is_appended_once(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / "prisma").mkdir(parents=True)
    (project / "prisma" / "schema.prisma").write_text('datasource db {\n  provider = "postgresql"\n}\n')
    (project / "package.json").write_text('{\n  "name": "p"\n}\n')
    (project / ".gitignore").write_text("node_modules\n.env")  # no newline at the end
    plan = plan_init(project)
    apply_init(plan)
    package = next(c for c in plan.changes if c.path.name == "package.json")
    assert package.notes[0] == 'added "scripts"'
    assert list(json.loads((project / "package.json").read_text())) == ["name", "scripts"]
    assert (project / ".gitignore").read_text() == "node_modules\n.env\n.safemigrate/\n"
    apply_init(plan_init(project))
    assert (project / ".gitignore").read_text().count(".safemigrate/") == 1


def test_an_existing_config_is_kept_unless_force(prisma_project: Path) -> None:
    own = '[lint]\nfail_on = "warning"\n'
    (prisma_project / "safemigrate.toml").write_text(own)
    plan = plan_init(prisma_project)
    apply_init(plan)
    config = next(c for c in plan.changes if c.path.name == "safemigrate.toml")
    assert config.action == "keep" and "--force" in config.notes[0]
    assert (prisma_project / "safemigrate.toml").read_text() == own
    apply_init(plan_init(prisma_project, force=True))
    assert "[backup.retention]" in (prisma_project / "safemigrate.toml").read_text()


def test_a_project_in_a_git_subfolder_gets_workflows_at_the_repository_root(
    tmp_path: Path, prisma_project: Path
) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    project = repo / "apps" / "web"
    project.parent.mkdir(parents=True)
    prisma_project.rename(project)
    actions = _init(project, ci="github", pre_commit=True)
    assert ".github/workflows/safemigrate-pr.yml" in actions and "apps/web/package.json" in actions
    pr = (repo / ".github/workflows/safemigrate-pr.yml").read_text()
    assert '"apps/web/prisma/migrations/**"' in pr
    assert "safemigrate lint --project apps/web --since" in pr
    hooks = (repo / ".pre-commit-config.yaml").read_text()
    assert r"'^apps/web/prisma/migrations/[^/]+/migration\.sql$'" in hooks


def test_mistakes_end_in_one_sentence(tmp_path: Path, prisma_project: Path) -> None:
    with pytest.raises(InputError, match="--ci gitlab is not supported"):
        plan_init(prisma_project, ci="gitlab")
    (prisma_project / "package.json").unlink()
    with pytest.raises(ProjectError, match=r"There is no package\.json"):
        plan_init(prisma_project)
    (prisma_project / "package.json").write_text('{"name": "x",}')
    with pytest.raises(ProjectError, match="is not valid JSON"):
        plan_init(prisma_project)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ProjectError, match="No Prisma schema found"):
        plan_init(empty)


def test_the_command_lists_each_file_and_says_when_nothing_changed(prisma_project: Path) -> None:
    app = typer.Typer()
    app.command("init")(init)

    @app.callback()
    def _group() -> None:  # keeps `init` a subcommand, as in safemigrate's app
        pass

    runner = CliRunner()
    first = runner.invoke(app, ["init", "--project", str(prisma_project), "--ci", "github", "--pre-commit"])
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    assert lines[0] == "created   safemigrate.toml"
    assert lines[1].startswith("updated   package.json: added db:backup, db:backup:auto,")
    assert 'kept db:lint: "echo our own lint" (--force replaces it)' in lines[1]
    assert "created   .gitignore: ignores .safemigrate/" in lines
    for name in ALL_FILES[3:]:
        assert f"created   {name}" in lines
    second = runner.invoke(app, ["init", "--project", str(prisma_project), "--ci", "github", "--pre-commit"])
    assert second.exit_code == 0
    assert second.output.splitlines()[-1] == "Nothing changed: the project is already set up."
    assert all(line.startswith("unchanged ") for line in second.output.splitlines()[:-1])
