"""The ``neon`` clone: a Neon branch of the target's project, made through Neon's HTTP API.

A branch is a copy-on-write copy of its parent (schema and data, made in seconds), so the clone
already holds what the target holds. The branch is created from ``[dry_run] neon_parent_branch``
(a branch name or ``br-...`` id; empty: the project's default branch) with a read-write compute,
connected to with the target's database and role, and deleted when the block ends, also on error
and Ctrl-C. Branches are named ``safemigrate-dryrun-<UTC time>-<random>``, so branches a killed run
left are found by name and age and deleted by :func:`drop_stale_neon_branches`.

Requests follow Neon's documented API v2 (create branch, get operation, list branches, get
connection URI, delete branch), with the standard library's urllib only. This has been tested
against a local server that follows that documentation, not yet against Neon itself.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import os
import re
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from safemigrate import __version__
from safemigrate.clone.providers import STALE_AFTER, Clone
from safemigrate.config import DatabaseConfig, DryRunConfig
from safemigrate.db.connect import connect
from safemigrate.db.url import DatabaseUrl, parse_database_url, redact_url
from safemigrate.errors import CloneError

API_KEY_ENV = "NEON_API_KEY"
BRANCH_PREFIX = "safemigrate-dryrun-"
_BRANCH_NAME = re.compile(re.escape(BRANCH_PREFIX) + r"(\d{8}T\d{6})-[0-9a-f]{4}")
REQUEST_TIMEOUT = 30.0  # seconds per HTTP request
OPERATION_TIMEOUT = 300.0  # seconds for the branch's operations (create branch, start compute) to finish
POLL_INTERVAL = 1.0
RETRIES = 3  # extra attempts after 423 Locked and 429 Too Many Requests (and 503 for GET and DELETE)
_REFUSED_STATUSES = frozenset({423, 429})  # nothing was done: safe to send again, even a POST
_MAX_RETRY_WAIT = 10.0
_DONE = frozenset({"finished", "skipped"})
_FAILED = frozenset({"failed", "error", "cancelling", "cancelled"})
_SETTINGS_HINT = "Check [dry_run] neon_project_id, neon_parent_branch and neon_api_url in safemigrate.toml."


def branch_name(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S")
    return f"{BRANCH_PREFIX}{stamp}-{secrets.token_hex(2)}"


def stale_branch_names(names: list[str], now: datetime, older_than: timedelta = STALE_AFTER) -> list[str]:
    """Dry-run branch names created more than ``older_than`` before ``now`` (by the time in their name)."""
    stale = []
    for name in names:
        match = _BRANCH_NAME.fullmatch(name)
        if match:
            created = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
            if now - created > older_than:
                stale.append(name)
    return stale


@dataclass(frozen=True)
class NeonApi:
    """One project of Neon's API v2. The key is sent as a Bearer token and never put in a message."""

    base_url: str
    project_id: str
    api_key: str = field(repr=False)
    timeout: float = REQUEST_TIMEOUT
    retries: int = RETRIES

    def call(
        self,
        method: str,
        path: str,
        *,
        action: str,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        not_found: str = "",
        missing_ok: bool = False,
    ) -> dict[str, Any]:
        """The JSON object Neon answers ``method path`` (under the project) with; ``action`` says what
        the request does, for messages ("create a branch"); ``not_found`` replaces the 404 message;
        ``missing_ok`` answers a 404 with ``{}``."""
        url = f"{self.base_url.rstrip('/')}/projects/{quote(self.project_id, safe='')}{path}"
        if query:
            url += "?" + urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json",
            "User-Agent": f"safemigrate/{__version__}",
        }
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    payload = response.read()
                break
            except urllib.error.HTTPError as err:
                with err:
                    neon_message = self._neon_message(err.read())
                    if missing_ok and err.code == 404:
                        return {}
                    retry = err.code in _REFUSED_STATUSES or (err.code == 503 and method in ("GET", "DELETE"))
                    if retry and attempt < self.retries:
                        time.sleep(_retry_wait(err.headers.get("Retry-After"), attempt))
                        continue
                raise self._http_error(err.code, neon_message, action, not_found) from None
            except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
                reason = err.reason if isinstance(err, urllib.error.URLError) else err
                raise CloneError(
                    f"Cannot reach the Neon API at {urlsplit(self.base_url).hostname} to {action}: "
                    f"{self.scrub(str(reason)) or type(reason).__name__}.",
                    "Check the network connection and [dry_run] neon_api_url.",
                ) from None
        if not payload.strip():
            return {}
        try:
            answer = json.loads(payload)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise CloneError(
                f"The Neon API answered the request to {action} with something other than a JSON object.",
                "Check that [dry_run] neon_api_url points at Neon's API v2 (https://console.neon.tech/api/v2).",
            )
        return answer

    def scrub(self, text: str) -> str:
        """``text`` without passwords in URLs and without the API key."""
        text = redact_url(text)
        return text.replace(self.api_key, "****") if self.api_key else text

    def _neon_message(self, body: bytes) -> str:
        """Neon's error text ({"code": ..., "message": ...}) on one short line, without secrets."""
        try:
            message = json.loads(body).get("message", "")
        except (ValueError, AttributeError):
            return ""
        if not isinstance(message, str):
            return ""
        message = " ".join(self.scrub(message).split()).rstrip(".")
        return message[:200]

    def _http_error(self, code: int, neon_message: str, action: str, not_found: str) -> CloneError:
        said = f": {neon_message}" if neon_message else ""
        project = self.project_id
        if code == 401:
            return CloneError(
                f"The Neon API rejected the key in {API_KEY_ENV} when asked to {action} (401 Unauthorized).",
                f"Create an API key in the Neon Console (Account settings, API keys) and export it as {API_KEY_ENV}.",
            )
        if code == 403:
            return CloneError(
                f"The Neon API key may not {action} in project {project} (403 Forbidden{said}).",
                "Use a personal or organization API key with access to this project.",
            )
        if code == 404:
            return CloneError(
                not_found or f"The Neon API found nothing to {action} in project {project} (404 Not Found{said}).",
                _SETTINGS_HINT,
            )
        if code == 409:
            return CloneError(
                f"Neon refused to {action} in project {project} (409 Conflict{said}).",
                "Check the project's branch limit and its other branches in the Neon Console.",
            )
        if code == 423:
            return CloneError(
                f"Neon project {project} stayed busy with other operations, so it could not {action} (423 Locked).",
                "Try again when the project's running operations have finished.",
            )
        if code == 429:
            return CloneError(
                f"The Neon API kept refusing too many requests when asked to {action} (429 Too Many Requests).",
                "Wait a minute and try again.",
            )
        if code >= 500:
            return CloneError(
                f"The Neon API failed to {action} (HTTP {code}{said}).",
                "Neon may be having trouble (https://neonstatus.com): try again later, or use another --clone.",
            )
        return CloneError(f"The Neon API refused to {action} (HTTP {code}{said}).", _SETTINGS_HINT)


def _retry_wait(retry_after: str | None, attempt: int) -> float:
    try:
        wait = float(retry_after) if retry_after is not None else 2.0**attempt
    except ValueError:
        wait = 2.0**attempt  # an HTTP date: not worth parsing for a short wait
    return min(max(wait, 0.0), _MAX_RETRY_WAIT)


def neon_api(settings: DryRunConfig, api_key: str | None = None) -> NeonApi:
    """The API client for ``settings``; refuses a missing key or project, and a key sent in clear."""
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")
    if not key.strip():
        raise CloneError(
            f"The neon clone needs a Neon API key in the environment variable {API_KEY_ENV}, which is not set.",
            f"Create one in the Neon Console (Account settings, API keys) and export {API_KEY_ENV}=... .",
        )
    if not settings.neon_project_id.strip():
        raise CloneError(
            "The neon clone needs the Neon project of the target: [dry_run] neon_project_id is not set.",
            'Add neon_project_id = "..." under [dry_run] in safemigrate.toml (Neon Console: Settings, Project ID).',
        )
    parts = urlsplit(settings.neon_api_url)
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(parts.hostname or "")):
        raise CloneError(
            f"[dry_run] neon_api_url must be an https:// URL, not {redact_url(settings.neon_api_url)!r} "
            "(the API key would travel in clear).",
            "Use https://console.neon.tech/api/v2 (the default).",
        )
    return NeonApi(settings.neon_api_url, settings.neon_project_id.strip(), key.strip())


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def list_branches(api: NeonApi, search: str = "") -> list[dict[str, Any]]:
    """Every branch of the project, following Neon's cursor pagination when the answer has one."""
    branches: list[dict[str, Any]] = []
    query: dict[str, str] = {"search": search} if search else {}
    seen_cursors: set[str] = set()
    while True:
        answer = api.call("GET", "/branches", action="list the project's branches", query=query)
        page = answer.get("branches")
        if not isinstance(page, list):
            raise CloneError(
                "The Neon API's list of branches has no branches array.",
                "Check that [dry_run] neon_api_url points at Neon's API v2.",
            )
        branches.extend(b for b in page if isinstance(b, dict))
        pagination = answer.get("pagination")
        cursor = pagination.get("next") if isinstance(pagination, dict) else None
        if not page or not isinstance(cursor, str) or not cursor or cursor in seen_cursors:
            return branches
        seen_cursors.add(cursor)
        query = {**query, "cursor": cursor}


def parent_branch(api: NeonApi, wanted: str) -> tuple[str, str]:
    """(id, name) of the branch named or numbered ``wanted``; of the project's default branch when empty."""
    branches = list_branches(api)
    if wanted:
        for branch in branches:
            if wanted in (branch.get("id"), branch.get("name")):
                return str(branch["id"]), str(branch.get("name", branch["id"]))
        raise CloneError(
            f"Neon project {api.project_id} has no branch {wanted!r} ([dry_run] neon_parent_branch).",
            "Give the name or br-... id of the target's branch, or leave it empty for the project's default branch.",
        )
    for branch in branches:
        # "default" in today's API; "primary" (deprecated) in older answers.
        if (branch.get("default") is True or branch.get("primary") is True) and "id" in branch:
            return str(branch["id"]), str(branch.get("name", branch["id"]))
    raise CloneError(
        f"Neon project {api.project_id} has no default branch to branch from.",
        "Set [dry_run] neon_parent_branch to the name or br-... id of the target's branch.",
    )


def wait_for_operations(
    api: NeonApi,
    operations: object,
    *,
    what: str,
    timeout: float = OPERATION_TIMEOUT,
    poll_interval: float = POLL_INTERVAL,
) -> None:
    """Poll each operation until it finishes; CloneError when one fails or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    for operation in operations if isinstance(operations, list) else []:
        if not isinstance(operation, dict) or "id" not in operation:
            continue
        op_id = str(operation["id"])
        while True:
            status = str(operation.get("status", ""))
            if status in _DONE:
                break
            if status in _FAILED:
                error = " ".join(api.scrub(str(operation.get("error") or "")).split())[:200]
                raise CloneError(
                    f"Neon's {operation.get('action', 'operation')} operation for {what} ended {status}"
                    + (f": {error}." if error else "."),
                    "See the project's Monitoring page in the Neon Console; try again, or use another --clone.",
                )
            if time.monotonic() > deadline:
                raise CloneError(
                    f"Neon's {operation.get('action', 'operation')} operation for {what} did not finish "
                    f"within {timeout:g} seconds (still {status or 'pending'}).",
                    "See the project's Monitoring page in the Neon Console and try again later.",
                )
            time.sleep(poll_interval)
            answer = api.call(
                "GET", f"/operations/{quote(op_id, safe='')}", action=f"read the state of operation {op_id}"
            )
            state = answer.get("operation")
            operation = {"id": op_id, **(state if isinstance(state, dict) else {})}


def delete_branch(api: NeonApi, branch_id: str, name: str) -> None:
    """Delete the branch; one already gone counts as deleted."""
    try:
        api.call(
            "DELETE", f"/branches/{quote(branch_id, safe='')}", action=f"delete the branch {name}", missing_ok=True
        )
    except CloneError as err:
        raise CloneError(
            err.message,
            f"Delete the branch {name} ({branch_id}) in the Neon Console; otherwise the next dry-run "
            f"removes it once it is {STALE_AFTER.total_seconds() / 3600:g} hour(s) old.",
        ) from err


def _clone_url(uri: str, target: DatabaseUrl, branch: str) -> DatabaseUrl:
    """The branch's URI with the target's ?schema= (Prisma's, which Neon's URI does not carry)."""
    parts = urlsplit(uri)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "schema"]
    query.append(("schema", target.schema))
    text = urlunsplit(parts._replace(query=urlencode(query)))
    return parse_database_url(text, source=f"the Neon branch {branch}").require_direct()


@contextlib.contextmanager
def neon_clone(
    target: DatabaseUrl,
    settings: DryRunConfig,
    *,
    api_key: str | None = None,
    database_settings: DatabaseConfig,
    operation_timeout: float = OPERATION_TIMEOUT,
    poll_interval: float = POLL_INTERVAL,
) -> Iterator[Clone]:
    """A Neon branch of ``settings.neon_parent_branch`` (or the default branch), reached with the
    target's database and role; deleted when the block ends, also on error and Ctrl-C."""
    api = neon_api(settings, api_key)
    role = target.user
    database = target.database or target.user
    if not role:
        raise CloneError(
            f"The target URL ({target.display()}) names no user, so there is no Neon role to reach the branch with.",
            "Put the role in the URL (postgresql://ROLE:PASSWORD@HOST/DATABASE), as Neon's connection strings do.",
        )
    parent_id, parent_name = parent_branch(api, settings.neon_parent_branch.strip())
    name = branch_name()
    created = api.call(
        "POST",
        "/branches",
        action=f"create a branch of {parent_name}",
        body={"branch": {"parent_id": parent_id, "name": name}, "endpoints": [{"type": "read_write"}]},
    )
    branch = created.get("branch")
    if not isinstance(branch, dict) or not branch.get("id"):
        raise CloneError(
            f"The Neon API's answer to creating the branch {name} has no branch id.",
            f"Delete {name} in the Neon Console if it exists; check that [dry_run] neon_api_url is Neon's API v2.",
        )
    branch_id = str(branch["id"])
    try:
        wait_for_operations(
            api,
            created.get("operations"),
            what=f"the branch {name}",
            timeout=operation_timeout,
            poll_interval=poll_interval,
        )
        answer = api.call(
            "GET",
            "/connection_uri",
            action=f"get a connection URI for the branch {name}",
            query={"branch_id": branch_id, "database_name": database, "role_name": role},
            not_found=(
                f"The Neon branch {parent_name} has no database {database!r} with role {role!r} "
                "(the target's), so its copy has none either (404 Not Found)."
            ),
        )
        uri = answer.get("uri")
        if not isinstance(uri, str) or not uri:
            raise CloneError(
                f"The Neon API gave no connection URI for the branch {name}.",
                "Check that [dry_run] neon_api_url points at Neon's API v2.",
            )
        url = _clone_url(uri, target, name)
        with connect(url, command="dry-run", settings=database_settings) as conn:
            major = conn.info.server_version // 10000
        yield Clone(
            url,
            "neon",
            f"Neon branch {name} ({branch_id}) of {parent_name} in project {api.project_id}",
            major,
        )
    finally:
        delete_branch(api, branch_id, name)


def drop_stale_neon_branches(
    settings: DryRunConfig,
    *,
    api_key: str | None = None,
    older_than: timedelta = STALE_AFTER,
    now: datetime | None = None,
) -> tuple[str, ...]:
    """Delete the dry-run branches a killed run left in the project (by name and age); returns their names."""
    api = neon_api(settings, api_key)
    ids = {
        str(b["name"]): str(b["id"])
        for b in list_branches(api, search=BRANCH_PREFIX)
        if isinstance(b.get("name"), str) and b.get("id")
    }
    stale = stale_branch_names(sorted(ids), now or datetime.now(timezone.utc), older_than)
    for name in stale:
        delete_branch(api, ids[name], name)
    return tuple(stale)
