"""The configuration reference: every setting of safemigrate.toml, documented once.

``docs/configuration-reference.md`` is generated from :data:`SETTINGS` by ``python -m
safemigrate.docs_gen``; a test proves the table names exactly the keys the parsers in
:mod:`safemigrate.config` accept, and that every example value parses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    section: str  # the TOML table: "lint", "backup.retention", "notifications.webhooks" (an array of tables)
    key: str
    example: str  # a TOML value that parses
    default: str  # in words
    description: str


SETTINGS: tuple[Setting, ...] = (
    Setting("lint", "fail_on", '"error"', '"error"', "Exit 1 from this severity on: error, warning or never."),
    Setting("lint", "pg_version", "16", "16", "The PostgreSQL major the migrations run on (rules differ by version)."),
    Setting(
        "lint",
        "default_schema",
        '"public"',
        '"public"',
        "Where unqualified names live; lint --pending, plan and migrate use the URL's ?schema= instead.",
    ),
    Setting("lint", "disable", '["update"]', "[]", "Rules to turn off, by name or id."),
    Setting("lint.severity", "<rule>", '"warning"', "the rule's own", "error, warning, info or off."),
    Setting(
        "database",
        "lock_timeout",
        '"10s"',
        '"10s"',
        "Every session: how long a statement waits for a lock (at most 2147483647ms, PostgreSQL's limit).",
    ),
    Setting(
        "database",
        "statement_timeout",
        '"1h"',
        '"1h"',
        "Every session: how long one statement may run (at most 2147483647ms, PostgreSQL's limit).",
    ),
    Setting("database", "migrate_lock_timeout", '"10s"', '"10s"', "How long to wait for Prisma's migration lock."),
    Setting(
        "database",
        "prisma_handover_timeout",
        '"2min"',
        '"60s"',
        "`--engine prisma`: how long `prisma migrate deploy` may take to queue for the lock (0: as long as it runs).",
    ),
    Setting("backup", "store", '".safemigrate/backups"', '".safemigrate/backups"', "A folder or s3://bucket/prefix."),
    Setting(
        "backup.retention",
        "keep_days",
        "30",
        "30",
        "`backups prune` keeps every backup younger than this many days (0 to 36500).",
    ),
    Setting("backup.retention", "keep_last", "5", "5", "... and the newest N backups, whatever their age."),
    Setting(
        "backup.retention",
        "keep_pre_migrate",
        "true",
        "true",
        "... and the newest pre-migrate backup of each migration (what a rollback restores).",
    ),
    Setting("dry_run", "clone", '"database"', '"database"', "database, embedded, url, container or neon."),
    Setting(
        "dry_run",
        "clone_url_env",
        '"SAFEMIGRATE_CLONE_URL"',
        '"SAFEMIGRATE_CLONE_URL"',
        "The environment variable holding the url clone's URL.",
    ),
    Setting("dry_run", "neon_project_id", '"misty-sun-12345678"', '""', "--clone neon: the target's Neon project."),
    Setting("dry_run", "neon_parent_branch", '"production"', "the default branch", "The branch to branch from."),
    Setting(
        "dry_run",
        "neon_api_url",
        '"https://console.neon.tech/api/v2"',
        '"https://console.neon.tech/api/v2"',
        "Neon's API (the key comes from NEON_API_KEY).",
    ),
    Setting("plan", "large_table_rows", "1000000", "1000000", "Lock findings on tables this big become errors."),
    Setting("plan", "small_table_rows", "10000", "10000", "... on smaller ones (and small_table_bytes) info."),
    Setting("plan", "small_table_bytes", '"100MB"', '"100MB"', "A size: bytes, or kB / MB / GB."),
    Setting("plan", "large_table_bytes", '"10GB"', '"10GB"', "A table this big counts as large anyway."),
    Setting("plan", "check_budget", '"60s"', '"60s"', "Total time the preflight data checks may take."),
    Setting("plan", "check_timeout", '"20s"', '"20s"', "The most one data check may take."),
    Setting("plan", "long_transaction", '"5min"', '"5min"', "Transactions open longer are listed as in the way."),
    Setting(
        "clone",
        "masks",
        '{"User.email" = "email"}',
        "{}",
        "`clone --to`: columns to mask (email, name, phone, hash, null).",
    ),
    Setting(
        "clone", "salt_env", '"SAFEMIGRATE_MASK_SALT"', '"SAFEMIGRATE_MASK_SALT"', "The variable holding the salt."
    ),
    Setting("notifications", "backup_max_age", '"26h"', "none", "`notify check` alerts past this age."),
    Setting("notifications.webhooks", "kind", '"slack"', "(required)", "slack (incoming webhook) or json."),
    Setting("notifications.webhooks", "url_env", '"SLACK_WEBHOOK_URL"', "(required)", "The variable holding the URL."),
    Setting("notifications.webhooks", "events", '["run_refused"]', "all", "Which events go to this webhook."),
    Setting(
        "notifications.webhooks",
        "timeout",
        '"5s"',
        '"5s"',
        "Per attempt, as a whole (connecting and reading the answer).",
    ),
)


def render_reference() -> str:
    lines = [
        "# Configuration reference",
        "",
        "Every setting of `safemigrate.toml` (or `[tool.safemigrate]` in pyproject.toml). Unknown keys are",
        'errors. Durations are seconds or strings with a unit (`"500ms"`, `"10s"`, `"5min"`, `"1h"`, `"2d"`),',
        "finite and at most 100 years; those PostgreSQL applies (lock_timeout, statement_timeout,",
        "migrate_lock_timeout, [plan] check_timeout) at most 2147483647ms (about 24.8 days).",
        "See [configuration.md](configuration.md) for how the file and the database URL are found.",
    ]
    section = None
    for setting in SETTINGS:
        if setting.section != section:
            section = setting.section
            header = f"[[{section}]]" if section == "notifications.webhooks" else f"[{section}]"
            lines += ["", f"## `{header}`", "", "| key | example | default | meaning |", "|---|---|---|---|"]
        example = setting.example.replace("|", "\\|")
        lines.append(f"| `{setting.key}` | `{example}` | {setting.default} | {setting.description} |")
    return "\n".join(lines) + "\n"
