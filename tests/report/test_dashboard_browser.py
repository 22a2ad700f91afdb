"""The dashboard in headless Chromium (Debian's `chromium`, driven by playwright): it loads from a
file:// URL without console errors or page errors, shows the runs and the right status, and a
screenshot is taken."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_sample import make_ledger

from safemigrate.report.dashboard import build_dashboard, write_dashboard


def _unavailable(reason: str) -> None:
    """Outside CI a missing browser skips with the reason; in CI (CI=true) it fails."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"Headless Chromium is required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        _unavailable("no `chromium` on PATH (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
        raise  # unreachable: skip/fail raise
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def test_the_dashboard_loads_in_chromium_and_shows_the_runs(tmp_path: Path, database_url: str, browser: Any) -> None:
    ledger = make_ledger(tmp_path, database_url)
    index = write_dashboard(build_dashboard(ledger.project), tmp_path / "site")

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        response = page.goto(index.as_uri(), wait_until="load")
        assert response is not None and response.ok
        assert page.title().startswith("safemigrate: green:")

        banner = page.locator("#status")
        assert banner.get_attribute("class") == "banner level-green"
        assert page.locator("#status-headline").inner_text() == "Green: all clear"
        run_ids = page.locator("#runs-table tbody tr td:first-child").all_inner_texts()
        assert run_ids == [ledger.applied.id, ledger.refused.id]
        verdicts = page.locator("#runs-table tbody tr td:nth-child(4)").all_inner_texts()
        assert verdicts == ["applied", "refused"]
        backup_ids = page.locator("#backups-table tbody tr td:first-child").all_inner_texts()
        assert backup_ids == [ledger.manual.id, ledger.applied.backup_id]
        # The hostile backup reason is text on the page, not a script element.
        assert page.locator("script").count() == 0
        assert '<script>alert("x")</script>' in page.locator("#backups-table").inner_text()
        # The status colour comes from the inline stylesheet (no external CSS was fetched).
        assert banner.evaluate("element => getComputedStyle(element).borderLeftStyle") == "solid"

        screenshot = tmp_path / "dashboard.png"
        page.screenshot(path=str(screenshot), full_page=True)
    finally:
        page.close()
    assert errors == []
    assert requests == [index.as_uri()], "the page fetched nothing but itself"
    assert screenshot.is_file() and screenshot.stat().st_size > 0
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
