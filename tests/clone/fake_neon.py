"""A local HTTP server that answers as Neon's API v2 documents, backed by a real PostgreSQL server.

Shapes follow neon.com/docs/reference/api: create branch (201: branch, endpoints, operations, roles,
databases, connection_uris), get operation ({"operation": {...}} with status running → finished),
list branches (search, cursor pagination), connection_uri ({"uri": ...}), delete branch (200), and
errors as {"code": ..., "message": ...}. A branch's databases are real databases on the test server:
creating a branch copies each database of its parent (CREATE DATABASE ... TEMPLATE), deleting drops
them. Roles are the test server's user.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from psycopg import sql

from tests.pgserver import PgServer

API_PREFIX = "/api/v2"


@dataclass
class FakeBranch:
    id: str
    name: str
    parent_id: str | None
    databases: dict[str, str]  # Neon database name -> database on the test server
    default: bool = False
    owns_databases: bool = False  # created through the API: its databases are dropped with it
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))

    def as_json(self, project_id: str, legacy_primary: bool) -> dict[str, Any]:
        flag = "primary" if legacy_primary else "default"
        return {
            "id": self.id,
            "project_id": project_id,
            "parent_id": self.parent_id,
            "name": self.name,
            "current_state": "ready",
            flag: self.default,
            "protected": False,
            "created_at": self.created_at,
            "updated_at": self.created_at,
        }


@dataclass
class Request:
    method: str
    path: str  # under /api/v2, without the query
    query: dict[str, str]
    body: Any


class FakeNeon:
    def __init__(self, pg: PgServer, project_id: str = "misty-sun-12345678", api_key: str = "neon-test-key-0123456789"):
        self.pg = pg
        self.project_id = project_id
        self.api_key = api_key
        self.branches: dict[str, FakeBranch] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        self.requests: list[Request] = []
        self.polls_to_finish = 2  # GETs of an operation before it leaves "running"
        self.fail_operations = False  # create_branch operations end "failed"
        self.legacy_primary = False  # mark the default branch with "primary" (older API) instead of "default"
        self.page_size = 2  # branches per page of GET /branches
        self.forced: list[tuple[int, dict[str, Any], dict[str, str]]] = []  # answers given before routing
        self.lock = threading.Lock()
        self.url = ""

    def add_branch(self, name: str, databases: dict[str, str], *, default: bool = False, created_at: str = "") -> str:
        branch_id = f"br-{name.replace('_', '-')[:20]}-{uuid.uuid4().hex[:8]}"
        branch = FakeBranch(branch_id, name, None, databases, default)
        if created_at:
            branch.created_at = created_at
        self.branches[branch_id] = branch
        return branch_id

    # -- the API -------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Any, raw_body: bytes) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(target)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        body = json.loads(raw_body) if raw_body else None
        path = parts.path[len(API_PREFIX) :] if parts.path.startswith(API_PREFIX) else parts.path
        with self.lock:
            self.requests.append(Request(method, path, query, body))
            if self.forced:
                return self.forced.pop(0)
            if headers.get("Authorization") != f"Bearer {self.api_key}":
                return 401, {"code": "", "message": "authentication required"}, {}
            match = re.fullmatch(r"/projects/([^/]+)(/.*)", path)
            if match is None or match.group(1) != self.project_id:
                return 404, {"code": "", "message": "project not found"}, {}
            return self._route(method, match.group(2), query, body)

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        if method == "GET" and path == "/branches":
            return self._list_branches(query)
        if method == "POST" and path == "/branches":
            return self._create_branch(body or {})
        if method == "GET" and path == "/connection_uri":
            return self._connection_uri(query)
        match = re.fullmatch(r"/operations/([^/]+)", path)
        if method == "GET" and match:
            return self._operation(match.group(1))
        match = re.fullmatch(r"/branches/([^/]+)", path)
        if method == "DELETE" and match:
            return self._delete_branch(match.group(1))
        return 404, {"code": "", "message": "not found"}, {}

    def _list_branches(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        search = query.get("search", "")
        matching = [b for b in self.branches.values() if search in b.name or search in b.id]
        start = int(query.get("cursor", "0"))
        page = matching[start : start + self.page_size]
        answer: dict[str, Any] = {
            "branches": [b.as_json(self.project_id, self.legacy_primary) for b in page],
            "annotations": {},
        }
        if start + self.page_size < len(matching):
            answer["pagination"] = {"next": str(start + self.page_size), "sort_by": "updated_at", "sort_order": "desc"}
        return 200, answer, {}

    def _create_branch(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        wanted = body.get("branch", {})
        parent_id = wanted.get("parent_id") or next(b.id for b in self.branches.values() if b.default)
        parent = self.branches.get(parent_id)
        if parent is None:
            return 404, {"code": "", "message": f"branch {parent_id} not found"}, {}
        branch_id = f"br-{uuid.uuid4().hex[:12]}"
        copies = {name: f"neon_{branch_id.replace('-', '_')}_{i}" for i, name in enumerate(parent.databases)}
        with psycopg.connect(self.pg.url(), autocommit=True) as admin:
            for name, copy in copies.items():
                admin.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(copy), sql.Identifier(parent.databases[name])
                    )
                )
        branch = FakeBranch(branch_id, wanted.get("name") or branch_id, parent_id, copies, owns_databases=True)
        self.branches[branch_id] = branch
        endpoint_id = f"ep-{uuid.uuid4().hex[:12]}"
        operations = [
            self._new_operation(branch_id, None, "create_branch"),
            self._new_operation(branch_id, endpoint_id, "start_compute"),
        ]
        endpoints = [
            {
                "id": endpoint_id,
                "host": f"{endpoint_id}.local",
                "project_id": self.project_id,
                "branch_id": branch_id,
                "type": "read_write",
                "current_state": "init",
            }
            for _ in body.get("endpoints", [])
        ]
        answer = {
            "branch": {**branch.as_json(self.project_id, self.legacy_primary), "current_state": "init"},
            "endpoints": endpoints,
            "operations": operations,
            "roles": [{"branch_id": branch_id, "name": self.pg.user, "protected": False}],
            "databases": [
                {"id": i, "branch_id": branch_id, "name": n, "owner_name": self.pg.user} for i, n in enumerate(copies)
            ],
            "connection_uris": [
                {
                    "connection_uri": self._uri(copy),
                    "connection_parameters": {"database": name, "password": self.pg.password, "role": self.pg.user},
                }
                for name, copy in copies.items()
            ]
            if endpoints
            else [],
        }
        return 201, answer, {}

    def _new_operation(self, branch_id: str, endpoint_id: str | None, action: str) -> dict[str, Any]:
        operation = {
            "id": str(uuid.uuid4()),
            "project_id": self.project_id,
            "branch_id": branch_id,
            "action": action,
            "status": "running",
            "failures_count": 0,
            "polls_left": self.polls_to_finish,
        }
        if endpoint_id:
            operation["endpoint_id"] = endpoint_id
        self.operations[operation["id"]] = operation
        return self._operation_json(operation)

    @staticmethod
    def _operation_json(operation: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in operation.items() if key != "polls_left"}

    def _operation(self, op_id: str) -> tuple[int, Any, dict[str, str]]:
        operation = self.operations.get(op_id)
        if operation is None:
            return 404, {"code": "", "message": "operation not found"}, {}
        if operation["status"] == "running":
            operation["polls_left"] -= 1
            if operation["polls_left"] <= 0:
                if self.fail_operations and operation["action"] == "create_branch":
                    operation.update(status="failed", error="simulated storage failure", failures_count=1)
                else:
                    operation["status"] = "finished"
        return 200, {"operation": self._operation_json(operation)}, {}

    def _uri(self, database: str) -> str:
        return self.pg.url(database) + "?sslmode=disable"

    def _connection_uri(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        branch = self.branches.get(query.get("branch_id", ""))
        if branch is None:
            return 404, {"code": "", "message": "branch not found"}, {}
        database = branch.databases.get(query.get("database_name", ""))
        if database is None or query.get("role_name") != self.pg.user:
            return 404, {"code": "", "message": "database or role not found"}, {}
        return 200, {"uri": self._uri(database)}, {}

    def _delete_branch(self, branch_id: str) -> tuple[int, Any, dict[str, str]]:
        branch = self.branches.get(branch_id)
        if branch is None:
            return 404, {"code": "", "message": "branch not found"}, {}
        if branch.default:
            return 400, {"code": "", "message": "cannot delete the default branch"}, {}
        if branch.owns_databases:
            with psycopg.connect(self.pg.url(), autocommit=True) as admin:
                for copy in branch.databases.values():
                    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(copy)))
        del self.branches[branch_id]
        operation = self._new_operation(branch_id, None, "delete_timeline")
        return 200, {"branch": branch.as_json(self.project_id, self.legacy_primary), "operations": [operation]}, {}


def _handler(fake: FakeNeon) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, payload, headers = fake.handle(self.command, self.path, self.headers, self.rfile.read(length))
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

    return Handler


@contextmanager
def fake_neon(pg: PgServer) -> Iterator[FakeNeon]:
    fake = FakeNeon(pg)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}{API_PREFIX}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
