"""Where backups live: a local folder, or S3-compatible object storage (``s3://bucket/prefix``).

Both hold the same archive (see :mod:`safemigrate.backup`). A backup is always taken into a local
folder first (the local store itself, or a private temporary folder for S3) and published whole:
for S3 the data files are uploaded first and ``manifest.json`` last, so a listing (which only
counts folders that have a manifest) never shows a backup whose data is not all there.

Deleting is marked first, so that an interrupted delete is finished by the next ``backups prune``
and a folder without a manifest is never mistaken for one (it may be a backup still being written):
a local backup folder ``<id>`` is renamed to ``.<id>.deleting`` (atomic), then removed; in S3 the
marker object ``<id>/.deleting`` is written, then the manifest is deleted (so the backup is no longer
listed), then the data objects, then the marker.

S3 goes through boto3: credentials, region and endpoint come from the standard AWS settings
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, ``AWS_PROFILE`` and
``~/.aws/config``, ``AWS_REGION``, ``AWS_ENDPOINT_URL`` or ``AWS_ENDPOINT_URL_S3`` for MinIO, R2,
...), and uploads and downloads stream from and to files (multipart), never through memory whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from safemigrate.backup.manifest import Manifest
from safemigrate.backup.select import created
from safemigrate.backup.store import (
    DELETING,
    DIR_MODE,
    FILE_MODE,
    ID_PATTERN,
    MANIFEST,
    BackupListing,
    UnfinishedBackup,
    UnreadableBackup,
    check_writable,
    create_file,
    ensure_store,
    find_backup,
    fsync_dir,
    list_backups,
    marked_ids,
    misnamed_backup,
    readable_store,
    reading_store,
    remove_abandoned,
    remove_tree,
    store_folder,
    unfinished_backups,
)
from safemigrate.errors import BackupFormatError, BackupNotFoundError, BackupStoreError, StoreSettingError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RUNS = "runs"  # the run ledger: one JSON document per `migrate` run, beside the backups


class BackupStore(Protocol):
    """A place that holds backups. ``location`` is what messages show (never a secret)."""

    @property
    def location(self) -> str: ...

    def list(self) -> BackupListing:
        """Every complete backup, oldest first; those whose manifest cannot be read in ``unreadable``,
        those started and never published in ``unfinished``."""
        ...

    def check(self) -> None:
        """Fail now, before a backup is taken, when the store cannot be written."""
        ...

    def staging(self) -> contextlib.AbstractContextManager[Path]:
        """A local store folder to take a new backup into (then :meth:`publish` it)."""
        ...

    def publish(self, local_store: Path, manifest: Manifest) -> None:
        """Make the backup taken into ``local_store`` part of this store."""
        ...

    def fetch(self, backup_id: str) -> contextlib.AbstractContextManager[Path]:
        """A local store folder that holds backup ``backup_id`` whole (downloaded if need be)."""
        ...

    def save_manifest(self, manifest: Manifest) -> None:
        """Replace a backup's manifest (e.g. to mark it verified), atomically."""
        ...

    def delete(self, backup_id: str) -> None:
        """Remove a backup: marked as being deleted first, then its manifest, so it is never listed
        half-deleted and an interrupted delete can be finished (:meth:`finish_delete`)."""
        ...

    def unfinished_deletes(self) -> tuple[str, ...]:
        """The ids of backups whose delete was started (marked) but not finished."""
        ...

    def finish_delete(self, backup_id: str) -> None:
        """Remove what is left of a backup whose delete was interrupted (one marked as being deleted)."""
        ...

    def remove_abandoned(self, backup_id: str) -> bool:
        """Remove an unfinished backup whose process is gone (state ``abandoned``); False, and nothing
        touched, when it is not abandoned."""
        ...

    def save_run(self, run_id: str, document: str) -> None:
        """Write (or replace) one entry of the run ledger (``runs/<id>.json``)."""
        ...

    def list_runs(self) -> tuple[dict[str, Any], ...]:
        """Every ledger entry, oldest first."""
        ...


@dataclass(frozen=True)
class LocalStore:
    path: Path

    @property
    def location(self) -> str:
        return str(self.path)

    def list(self) -> BackupListing:
        listed = list_backups(self.path)  # a manifest naming another backup than its folder: unreadable
        with reading_store(self.path):
            return by_time(listed, listed.unreadable, unfinished_backups(self.path))

    def check(self) -> None:
        if not store_folder(self.path):  # a file: refused; an existing folder is used as it is
            try:
                ensure_store(self.path)
            except OSError as err:
                raise BackupStoreError(
                    f"Cannot create the backup store {self.path}: {err.strerror or err}.",
                    "Check the [backup] store setting and the permissions of the folder it would be created in.",
                ) from err
        check_writable(self.path)

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        yield self.path  # take_backup publishes into the folder itself

    def publish(self, local_store: Path, manifest: Manifest) -> None:
        return None

    @contextlib.contextmanager
    def fetch(self, backup_id: str) -> Iterator[Path]:
        find_backup(self.path, backup_id)  # a clear error when it is not there
        yield self.path

    def save_manifest(self, manifest: Manifest) -> None:
        folder, _ = find_backup(self.path, manifest.id)
        temporary = folder / f".{MANIFEST}.tmp"
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        fd = create_file(temporary)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(manifest.to_json())
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, folder / MANIFEST)

    def delete(self, backup_id: str) -> None:
        folder, _ = find_backup(self.path, backup_id)
        doomed = self.path / f".{backup_id}{DELETING}"
        with self._deleting(backup_id):
            os.rename(folder, doomed)  # atomic: never listed half-deleted, finished by the next prune
            fsync_dir(self.path)
            remove_tree(doomed)

    def unfinished_deletes(self) -> tuple[str, ...]:
        return tuple(marked_ids(self.path, DELETING))  # reading only: an unreadable store says so

    def finish_delete(self, backup_id: str) -> None:
        _check_id(backup_id, self.location)
        with self._deleting(backup_id):
            remove_tree(self.path / f".{backup_id}{DELETING}")

    def remove_abandoned(self, backup_id: str) -> bool:
        _check_id(backup_id, self.location)
        with self._deleting(f"{backup_id} (unfinished)"):
            return remove_abandoned(self.path, backup_id, self.path / f".{backup_id}{DELETING}")

    @contextlib.contextmanager
    def _deleting(self, backup_id: str) -> Iterator[None]:
        """A folder that cannot be changed (read-only, not a folder any more) as one sentence."""
        try:
            yield
        except OSError as err:
            raise BackupStoreError(
                f"Cannot delete backup {backup_id} from {self.path}: {err.strerror or err}"
                + (f" ({err.filename})" if err.filename else "")
                + ".",
                "Make the store folder writable, then run `safemigrate backups prune` again: it finishes a "
                "delete that was started.",
            ) from err

    def save_run(self, run_id: str, document: str) -> None:
        runs = self.path / RUNS
        temporary = runs / f".{run_id}.json.tmp"
        try:
            ensure_store(runs)
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            fd = create_file(temporary)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(document)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, runs / f"{run_id}.json")
        except BaseException as err:
            # A full disk, a read-only folder or an interrupt: never a half-written file left behind.
            with contextlib.suppress(OSError):
                temporary.unlink()
            if isinstance(err, OSError):
                raise BackupStoreError(
                    f"Cannot write run {run_id} to the run ledger {runs}: {err.strerror or err}.",
                    "Free space or fix the folder's permissions.",
                ) from err
            raise

    def list_runs(self) -> tuple[dict[str, Any], ...]:
        runs = self.path / RUNS
        if not readable_store(self.path):
            return ()
        with reading_store(self.path):
            if not runs.is_dir():
                return ()
            paths = sorted(p for p in runs.iterdir() if p.name.endswith(".json"))  # glob would hide an error
        found = []
        for path in paths:
            try:
                found.append(_run_record(path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError, ValueError) as err:
                raise BackupFormatError(f"Cannot read the run record {path}: {err}.", _DAMAGED_RUN) from err
        return runs_by_time(found)


def _split_s3_url(url: str) -> tuple[str, str]:
    rest = url[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise StoreSettingError(
            f"The backup store {url!r} names no bucket.", 'Write it as "s3://bucket" or "s3://bucket/prefix".'
        )
    return bucket, prefix.strip("/")


@dataclass(frozen=True)
class S3Store:
    bucket: str
    prefix: str  # without leading or trailing "/"; may be empty

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    @contextlib.contextmanager
    def _calls(self, doing: str) -> Iterator[None]:
        """botocore's errors as one sentence that names the store (credentials are never in them)."""
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError
        from s3transfer.exceptions import RetriesExceededError, S3DownloadFailedError, S3UploadFailedError

        try:
            yield
        except ClientError as err:
            error = err.response.get("Error", {})
            code = {"404": "NoSuchBucket", "403": "AccessDenied"}.get(error.get("Code", ""), error.get("Code", ""))
            if code == "NoSuchBucket":
                raise BackupStoreError(
                    f"Cannot {doing} in {self.location}: the bucket {self.bucket!r} does not exist.",
                    f"Create the bucket {self.bucket!r} or fix [backup] store.",
                ) from err
            hint = {
                "AccessDenied": "Check that the AWS credentials may read and write this bucket.",
                "InvalidAccessKeyId": "Check AWS_ACCESS_KEY_ID / AWS_PROFILE.",
                "SignatureDoesNotMatch": "Check AWS_SECRET_ACCESS_KEY / AWS_PROFILE.",
            }.get(code, "Check the bucket, the credentials and AWS_ENDPOINT_URL.")
            raise BackupStoreError(
                f"Cannot {doing} in {self.location}: {code or 'error'} ({error.get('Message', err)}).", hint
            ) from err
        except (Boto3Error, S3UploadFailedError, S3DownloadFailedError, RetriesExceededError) as err:  # transfers
            raise BackupStoreError(
                f"Cannot {doing} in {self.location}: {err}.",
                "Check that the AWS credentials may write this bucket, and the endpoint.",
            ) from err
        except BotoCoreError as err:
            raise BackupStoreError(
                f"Cannot {doing} in {self.location}: {err}.",
                "Check AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3), AWS_REGION and the AWS credentials.",
            ) from err

    def _client(self) -> S3Client:
        import boto3

        with self._calls("connect"):
            return boto3.session.Session().client("s3")

    def _manifest(self, client: S3Client, backup_id: str) -> Manifest | None:
        from botocore.exceptions import ClientError

        key = self._key(backup_id, MANIFEST)
        try:
            body = client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            raise BackupFormatError(f"Cannot read the manifest s3://{self.bucket}/{key}: {err}.", "") from err
        return Manifest.from_dict(data, f"s3://{self.bucket}/{key}")

    def _ids(self, client: S3Client) -> list[str]:
        ids: list[str] = []
        paginator = client.get_paginator("list_objects_v2")
        base = self._key() + "/" if self.prefix else ""
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                name = common.get("Prefix", "")[len(base) :].rstrip("/")
                if ID_PATTERN.fullmatch(name):
                    ids.append(name)
        return sorted(ids)

    def _files(self, client: S3Client, backup_id: str) -> list[str]:
        """The keys under the backup's folder, relative to it."""
        base = self._key(backup_id) + "/"
        found: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base):
            found.extend(item["Key"][len(base) :] for item in page.get("Contents", []) if "Key" in item)
        return found

    def list(self) -> BackupListing:
        client = self._client()
        backups: list[Manifest] = []
        unreadable: list[UnreadableBackup] = []
        unfinished: list[UnfinishedBackup] = []
        with self._calls("list the backups"):
            for backup_id in self._ids(client):
                try:
                    manifest = self._manifest(client, backup_id)
                except BackupFormatError as err:  # one bad manifest must not hide the other backups
                    unreadable.append(UnreadableBackup(backup_id, err.message, err.hint))
                    continue
                if manifest is not None:
                    if manifest.id == backup_id:
                        backups.append(manifest)
                    else:  # copied under another name: listed as such, never used, never hidden
                        misnamed = misnamed_backup(manifest.id, backup_id)
                        unreadable.append(UnreadableBackup(backup_id, misnamed.message, misnamed.hint))
                elif not self._exists(client, self._key(backup_id, DELETING)):
                    # Data without a manifest: an upload still running, or one killed before it could
                    # clean up. Nothing here tells the two apart, so it is only reported.
                    unfinished.append(UnfinishedBackup(backup_id, self.location + f"/{backup_id}/", "unknown"))
        return by_time(backups, unreadable, unfinished)

    def check(self) -> None:
        """The bucket answers, and these credentials may write to it: an empty object is put and
        deleted again (credentials that may only read would otherwise fail after every row was copied).
        Its name is no backup id, so no listing ever shows it, even when it cannot be deleted."""
        client = self._client()
        with self._calls("reach the bucket"):
            client.head_bucket(Bucket=self.bucket)
        probe = self._key(f".safemigrate-write-check-{secrets.token_hex(8)}")
        with self._calls("write a test object"):
            client.put_object(Bucket=self.bucket, Key=probe, Body=b"")
        with contextlib.suppress(Exception):  # deleting is prune's right, not the backup's
            client.delete_object(Bucket=self.bucket, Key=probe)

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="safemigrate-backup-") as folder:
            store = ensure_store(Path(folder) / "store")
            yield store

    def publish(self, local_store: Path, manifest: Manifest) -> None:
        client = self._client()
        folder = local_store / manifest.id
        data_files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)
        started: list[str] = []
        try:
            with self._calls(f"upload backup {manifest.id}"):
                for path in data_files:
                    key = self._key(manifest.id, path.relative_to(folder).as_posix())
                    started.append(key)  # before the upload: an interrupt may come after its last part landed
                    client.upload_file(str(path), self.bucket, key)
                client.upload_file(str(folder / MANIFEST), self.bucket, self._key(manifest.id, MANIFEST))
        except BaseException:
            # The manifest first (its PUT may have landed before the failure), so the upload is never
            # listed; then the data objects, and the multipart uploads left open (their parts are stored,
            # and billed, until aborted). Each on its own: one failed delete must not stop the rest.
            for key in (self._key(manifest.id, MANIFEST), *started):
                with contextlib.suppress(Exception):
                    client.delete_object(Bucket=self.bucket, Key=key)
            with contextlib.suppress(Exception):
                self._abort_uploads(client, self._key(manifest.id) + "/")
            raise

    def _abort_uploads(self, client: S3Client, prefix: str) -> None:
        answer = client.list_multipart_uploads(Bucket=self.bucket, Prefix=prefix)
        for upload in answer.get("Uploads", []):
            if "Key" in upload and "UploadId" in upload:
                client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])

    @contextlib.contextmanager
    def fetch(self, backup_id: str) -> Iterator[Path]:
        client = self._client()
        with self._calls(f"read backup {backup_id}"):
            manifest = self._manifest(client, backup_id) if ID_PATTERN.fullmatch(backup_id) else None
        if manifest is None:
            raise BackupNotFoundError(
                f"There is no backup {backup_id!r} in {self.location}.",
                "Run `safemigrate backups list` to see the ids.",
            )
        with tempfile.TemporaryDirectory(prefix="safemigrate-restore-") as temporary:
            store = ensure_store(Path(temporary) / "store")
            folder = store / backup_id
            folder.mkdir(mode=DIR_MODE)
            with self._calls(f"download backup {backup_id}"):
                for relative in self._files(client, backup_id):
                    parts = relative.split("/")
                    if relative in (MANIFEST, DELETING) or ".." in parts or "" in parts:  # never outside the folder
                        continue
                    target = folder / relative
                    target.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
                    _download(client, self.bucket, self._key(backup_id, relative), target)
                # The manifest read above, not a second download: what was checked is what is used.
                fd = create_file(folder / MANIFEST)
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(manifest.to_json())
            yield store

    def save_manifest(self, manifest: Manifest) -> None:
        client = self._client()
        with self._calls(f"update the manifest of backup {manifest.id}"):
            client.put_object(
                Bucket=self.bucket, Key=self._key(manifest.id, MANIFEST), Body=manifest.to_json().encode("utf-8")
            )

    def _exists(self, client: S3Client, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return False
            raise
        return True

    def delete(self, backup_id: str) -> None:
        _check_id(backup_id, self.location)
        client = self._client()
        with self._calls(f"delete backup {backup_id}"):
            if not self._exists(client, self._key(backup_id, MANIFEST)):
                raise BackupNotFoundError(
                    f"There is no backup {backup_id!r} in {self.location}.",
                    "Run `safemigrate backups list` to see the ids.",
                )
            # The marker first: an interrupted delete leaves a prefix the next prune knows it may finish.
            client.put_object(Bucket=self.bucket, Key=self._key(backup_id, DELETING), Body=b"")
            self._remove(client, backup_id)

    def unfinished_deletes(self) -> tuple[str, ...]:
        client = self._client()
        with self._calls("look for interrupted deletes"):
            return tuple(i for i in self._ids(client) if self._exists(client, self._key(i, DELETING)))

    def finish_delete(self, backup_id: str) -> None:
        _check_id(backup_id, self.location)
        client = self._client()
        with self._calls(f"delete backup {backup_id}"):
            if self._exists(client, self._key(backup_id, DELETING)):  # never a prefix nobody marked
                self._remove(client, backup_id)

    def remove_abandoned(self, backup_id: str) -> bool:
        return False  # an S3 upload in progress cannot be told from a killed one (state "unknown")

    def _remove(self, client: S3Client, backup_id: str) -> None:
        """The manifest (no longer listed), then the data objects, then the marker (done)."""
        client.delete_object(Bucket=self.bucket, Key=self._key(backup_id, MANIFEST))
        keys: list[Any] = [
            {"Key": self._key(backup_id, relative)}
            for relative in self._files(client, backup_id)
            if relative not in (MANIFEST, DELETING)
        ]
        for start in range(0, len(keys), 1000):
            answer = client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys[start : start + 1000]})
            failed = answer.get("Errors", [])
            if failed:  # delete_objects reports per-key failures in its answer, not as an error
                first = failed[0]
                raise BackupStoreError(
                    f"Cannot delete backup {backup_id} in {self.location}: {len(failed)} object(s) were not "
                    f"deleted ({first.get('Key', '?')}: {first.get('Code', '?')} {first.get('Message', '')}).",
                    "Check that the AWS credentials may delete in this bucket, then run `safemigrate backups "
                    "prune` again: it finishes a delete that was started.",
                )
        client.delete_object(Bucket=self.bucket, Key=self._key(backup_id, DELETING))

    def save_run(self, run_id: str, document: str) -> None:
        _s3_save_run(self, run_id, document)

    def list_runs(self) -> tuple[dict[str, Any], ...]:
        return _s3_list_runs(self)


def _s3_save_run(store: S3Store, run_id: str, document: str) -> None:
    client = store._client()
    with store._calls(f"write run {run_id}"):
        client.put_object(Bucket=store.bucket, Key=store._key(RUNS, f"{run_id}.json"), Body=document.encode())


def _s3_list_runs(store: S3Store) -> tuple[dict[str, Any], ...]:
    client = store._client()
    found = []
    with store._calls("list the runs"):
        keys = sorted(
            item["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=store.bucket, Prefix=store._key(RUNS) + "/"
            )
            for item in page.get("Contents", [])
            if item.get("Key", "").endswith(".json")
        )
        for key in keys:
            body = client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
            try:
                found.append(_run_record(body.decode("utf-8")))
            except (UnicodeDecodeError, ValueError) as err:
                raise BackupFormatError(
                    f"Cannot read the run record s3://{store.bucket}/{key}: {err}.", _DAMAGED_RUN
                ) from err
    return runs_by_time(found)


UNSAVED_RUNS = Path(".safemigrate") / "unsaved-runs"  # beside the project, when the ledger cannot take a run


def save_run_or_keep(store: BackupStore, run_id: str, document: str, project_dir: Path) -> str:
    """Write one ledger entry; when the store cannot take it, keep the record in the project's
    ``.safemigrate/unsaved-runs/`` (else the temporary folder) and return the one sentence that says
    why, where it is and what to do ("" when the store took it). Nothing half-written is left."""
    try:
        store.save_run(run_id, document)
        return ""
    except BackupStoreError as err:
        reason = err.message
    for folder in (project_dir / UNSAVED_RUNS, Path(tempfile.gettempdir()) / "safemigrate-unsaved-runs"):
        kept = folder / f"{run_id}.json"
        try:
            ensure_store(folder)
            with contextlib.suppress(FileNotFoundError):
                kept.unlink()
            with os.fdopen(create_file(kept), "w", encoding="utf-8") as out:
                out.write(document)
                out.flush()
                os.fsync(out.fileno())
        except OSError:
            with contextlib.suppress(OSError):
                kept.unlink()
            continue
        return (
            f"{reason} The run's record was kept in {kept} instead: copy it to {store.location}/{RUNS}/ once the "
            "store can take it, or `safemigrate runs` and `safemigrate rollback` will not see the run."
        )
    return (
        f"{reason} Nor could the run's record be kept in {project_dir / UNSAVED_RUNS} or the temporary folder: "
        f"it is lost (`--format json` prints it); note run {run_id} and its backup before anything else."
    )


_DAMAGED_RUN = (
    "Fix the record or move it out of the ledger: every command that reads the ledger (runs, prune, "
    "rollback) stops at a damaged record rather than skip it, since retention keeps the backups runs need."
)


def _run_record(text: str) -> dict[str, Any]:
    """A run record's JSON, which must be an object (ValueError otherwise, as for broken JSON)."""
    record = json.loads(text)
    if not isinstance(record, dict):
        raise ValueError(f"a run record is a JSON object, this one is a JSON {type(record).__name__}")
    # The fields that listing, retention and rollback read: a wrong type is a damaged record, never a
    # traceback in whichever command reads it first.
    if not isinstance(record.get("id"), str):
        raise ValueError('its "id" is not a string')
    for name in ("started_at", "verdict", "backup_id"):
        if record.get(name) is not None and not isinstance(record[name], str):
            raise ValueError(f'its "{name}" is not a string')
    migrations = record.get("migrations", [])
    if not isinstance(migrations, list) or not all(isinstance(m, str) for m in migrations):
        raise ValueError('its "migrations" is not a list of names')
    return record


def runs_by_time(runs: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    return tuple(sorted(runs, key=lambda r: (str(r.get("started_at", "")), str(r.get("id", "")))))


def _check_id(backup_id: str, location: str) -> None:
    if not ID_PATTERN.fullmatch(backup_id):
        raise BackupNotFoundError(
            f"There is no backup {backup_id!r} in {location}.", "Run `safemigrate backups list` to see the ids."
        )


def by_time(
    backups: Iterable[Manifest],
    unreadable: Iterable[UnreadableBackup] = (),
    unfinished: Iterable[UnfinishedBackup] = (),
) -> BackupListing:
    """Oldest first, by the time in the manifest (ids of one second tie-break)."""
    return BackupListing(sorted(backups, key=lambda m: (created(m), m.id)), unreadable, unfinished)


def _download(client: S3Client, bucket: str, key: str, target: Path) -> None:
    """Download to a new 0600 file (the data may be personal)."""
    fd = create_file(target)
    with os.fdopen(fd, "wb") as out:
        client.download_fileobj(bucket, key, out)
    os.chmod(target, FILE_MODE)


def open_store(store: str, project_dir: Path) -> BackupStore:
    """The store of ``[backup] store``: ``s3://bucket/prefix``, else a folder (relative to the project)."""
    if store.startswith("s3://"):
        bucket, prefix = _split_s3_url(store)
        return S3Store(bucket, prefix)
    if "://" in store:
        raise StoreSettingError(
            f"The backup store {store!r} is neither a folder nor an s3:// URL.",
            'Set [backup] store to a folder path or "s3://bucket/prefix".',
        )
    path = Path(store).expanduser()
    return LocalStore(path if path.is_absolute() else project_dir / path)
