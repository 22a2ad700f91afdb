"""package.json with a UTF-8 byte order mark: npm and Node read it, so the project discovery does too."""

from __future__ import annotations

import json
from pathlib import Path

from safemigrate.project import discover_project


def test_a_package_json_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "main.prisma").write_text('datasource db { provider = "postgresql" }')
    package = {"name": "x", "prisma": {"schema": "db/main.prisma"}}
    (tmp_path / "package.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(package).encode())
    project = discover_project(tmp_path)
    assert project.schema_path == tmp_path / "db" / "main.prisma"
    assert project.migrations_dir == tmp_path / "db" / "migrations"
