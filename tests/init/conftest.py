"""A generated Prisma project for the init tests: the bundled blog with a package.json of its own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

BLOG = Path(__file__).parents[2] / "fixtures" / "blog"

# A package.json as a team might have it: 4-space indent, scripts of their own, one named like ours.
PACKAGE_JSON = """{
    "name": "acme-web",
    "version": "0.3.0",
    "private": true,
    "scripts": {
        "dev": "next dev",
        "build": "next build",
        "db:lint": "echo our own lint"
    },
    "prisma": {
        "schema": "prisma/schema.prisma"
    },
    "dependencies": {
        "@prisma/client": "6.19.3",
        "next": "15.0.0"
    }
}
"""


@pytest.fixture
def prisma_project(tmp_path: Path) -> Path:
    project = tmp_path / "acme-web"
    shutil.copytree(BLOG, project)
    (project / "package.json").write_text(PACKAGE_JSON)
    return project
