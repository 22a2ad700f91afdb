"""Which backups ``backups prune`` removes: a backup is kept when any retention rule keeps it.

A backup whose manifest cannot be read is always kept: its time and reason are unknown, and it may be
of a newer format that a newer safemigrate restores. So is the backup of every run in the ledger that
``rollback --run`` would still undo (:func:`protected_backups`), whatever the rules say."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from safemigrate.backup.manifest import Manifest
from safemigrate.backup.select import created
from safemigrate.backup.store import BackupListing, UnfinishedBackup, UnreadableBackup
from safemigrate.config import RetentionConfig


@dataclass(frozen=True)
class KeptBackup:
    manifest: Manifest
    reasons: tuple[str, ...]  # why it stays, e.g. "younger than 30 days", "newest 5"


@dataclass(frozen=True)
class PrunePlan:
    kept: tuple[KeptBackup, ...]
    removed: tuple[Manifest, ...]
    unreadable: tuple[UnreadableBackup, ...] = ()  # kept: a prune never removes what it cannot read
    # Backups an earlier, interrupted prune had started to delete: finished by this one.
    finished: tuple[str, ...] = ()
    # Backups started and never published: the abandoned ones are removed (or would be, dry run);
    # those in progress or of unknown state are left alone.
    unfinished: tuple[UnfinishedBackup, ...] = ()

    @property
    def abandoned(self) -> tuple[UnfinishedBackup, ...]:
        return tuple(u for u in self.unfinished if u.state == "abandoned")

    @property
    def unfinished_left(self) -> tuple[UnfinishedBackup, ...]:
        return tuple(u for u in self.unfinished if u.state != "abandoned")


def rollback_accepts(run: Mapping[str, Any]) -> bool:
    """Whether ``rollback --run ID`` accepts this ledger entry (:func:`safemigrate.pipeline.rollback.find_run`
    decides with this function too, so prune keeps exactly what rollback may need): an applied run; an
    interrupted one whose schema changes were recorded; a failed one that committed schema changes
    before it failed."""
    verdict = run.get("verdict")
    if verdict == "interrupted":
        return run.get("schema_changes") is not None
    if verdict == "failed":
        return bool(run.get("schema_changes"))
    return verdict == "applied"


def protected_backups(runs: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Backup id -> why a prune keeps it: the backups of the ledger's runs that ``rollback --run``
    would undo (what it restores), and of interrupted runs whose changes could not be read (what
    ``restore`` puts back by hand, as rollback tells)."""
    protected: dict[str, str] = {}
    for run in runs:
        backup_id, run_id, verdict = run.get("backup_id"), run.get("id"), run.get("verdict")
        if not backup_id:
            continue
        if rollback_accepts(run):
            protected[str(backup_id)] = f"backup of {verdict} run {run_id} (what `rollback --run {run_id}` restores)"
        elif verdict == "interrupted":
            protected[str(backup_id)] = f"backup of interrupted run {run_id} (what `restore` puts back)"
    return protected


def plan_prune(
    backups: Sequence[Manifest],
    policy: RetentionConfig,
    now: datetime,
    protected: Mapping[str, str] | None = None,
) -> PrunePlan:
    """Apply ``policy`` to ``backups`` as of ``now``.

    The newest pre-migrate backup of every migration named by any pre-migrate backup is kept
    whatever its age (when ``keep_pre_migrate``): it is what a rollback of that migration restores,
    and without the database at hand a prune cannot tell which migrations are still applied, so it
    keeps them all rather than guess. ``protected`` (backup id -> reason) are always kept: the
    backups of the ledger's runs (:func:`protected_backups`). The backups a store's
    ``list()`` could not read (``backups.unreadable``) come back in ``unreadable``, all kept."""
    ordered = sorted(backups, key=created)
    reasons: dict[str, list[str]] = {m.id: [] for m in ordered}
    cutoff = now - timedelta(days=policy.keep_days)
    for manifest in ordered:
        if created(manifest) >= cutoff:
            reasons[manifest.id].append(f"younger than {policy.keep_days:g} days")
    if policy.keep_last:
        for manifest in ordered[-policy.keep_last :]:
            reasons[manifest.id].append(f"one of the newest {policy.keep_last}")
    if policy.keep_pre_migrate:
        newest_for: dict[str, Manifest] = {}
        for manifest in ordered:  # oldest first: later ones replace earlier ones
            if manifest.reason.kind == "pre-migrate":
                for migration in manifest.reason.migrations:
                    newest_for[migration] = manifest
        for migration, manifest in sorted(newest_for.items()):
            reasons[manifest.id].append(f"newest pre-migrate backup of {migration}")
    for backup_id, why in (protected or {}).items():
        if backup_id in reasons:
            reasons[backup_id].append(why)
    kept = tuple(KeptBackup(m, tuple(reasons[m.id])) for m in ordered if reasons[m.id])
    removed = tuple(m for m in ordered if not reasons[m.id])
    unreadable = backups.unreadable if isinstance(backups, BackupListing) else ()
    return PrunePlan(kept, removed, unreadable)
