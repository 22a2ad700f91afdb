"""The webhook sender loads its HTTP stack on first use: reading the configuration (every command,
``lint`` included, reads the notification settings) must not pay for http.client, urllib.request
and ssl."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

FIXTURES = Path(__file__).parents[2] / "fixtures"
HTTP_MODULES = {"http.client", "ssl", "urllib.request"}


def _modules_loaded_by(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))\n"
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=tempfile.gettempdir()
    )
    return set(completed.stdout.split())


def test_a_lint_run_imports_no_http_client() -> None:
    migrations = FIXTURES / "blog" / "prisma" / "migrations"
    loaded = _modules_loaded_by(f"import safemigrate.api as api\napi.lint([{str(migrations)!r}], use_cache=False)")
    assert "safemigrate.notify.send" in loaded  # the notification settings were read
    assert not loaded & HTTP_MODULES
