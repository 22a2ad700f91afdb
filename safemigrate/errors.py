"""One hierarchy for every error a user can cause; the CLI turns each into one sentence and an exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_TERMINATED = 143  # SIGTERM: a CI cancel, `timeout`, `docker stop` (128 + SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised by the command line where Ctrl-C would be, so that the same clean-up runs
    (every ``except KeyboardInterrupt`` sees it); the process then exits with EXIT_TERMINATED."""


_outcomes: list[str] = []  # the last sentence given to with_outcome: typer replaces the exception by an exit code


def with_outcome(interrupt: KeyboardInterrupt, outcome: str) -> KeyboardInterrupt:
    """``interrupt``, carrying what the command had done when it came (one sentence: "Nothing was
    restored.", "The restore had committed: ..."), which the command line prints after "Interrupted.".
    The same exception is returned, so Ctrl-C and SIGTERM (Terminated) keep their exit codes."""
    interrupt.safemigrate_outcome = outcome  # type: ignore[attr-defined]
    _outcomes[:] = [outcome]
    return interrupt


def outcome_of(interrupt: KeyboardInterrupt) -> str:
    """The sentence :func:`with_outcome` attached ("" when none was); for an interrupt the command
    line made up again (typer reported the original as an exit code), the last one given."""
    return str(getattr(interrupt, "safemigrate_outcome", "") or (_outcomes[-1] if _outcomes else ""))


class SafemigrateError(Exception):
    """An error with a one-line message and a hint that says what to do next."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class ProjectError(SafemigrateError):
    """The Prisma project could not be found or read as Prisma would."""


class ConfigError(SafemigrateError):
    """safemigrate.toml (or [tool.safemigrate]) is invalid."""


class InputError(SafemigrateError):
    """A path, file or argument given by the user cannot be used."""


class GitError(SafemigrateError):
    """A git operation needed by --since failed."""


class DatabaseError(SafemigrateError):
    """PostgreSQL refused or failed a request; ``sqlstate`` is the server's code when there is one."""

    def __init__(self, message: str, hint: str = "", sqlstate: str | None = None) -> None:
        super().__init__(message, hint)
        self.sqlstate = sqlstate


class DatabaseUrlError(DatabaseError):
    """The database URL is missing, malformed, unsupported (pooled, Prisma Postgres) or cannot be read statically."""


class DatabaseConnectionError(DatabaseError):
    """The server is unreachable, refused the credentials, or the database does not exist."""


class DatabasePermissionError(DatabaseError):
    """The role lacks a privilege (SQLSTATE 42501)."""


class LockTimeoutError(DatabaseError):
    """A lock wait exceeded lock_timeout (SQLSTATE 55P03): nothing was changed, try again later."""

    exit_code = EXIT_CHECK_FAILED


class StatementTimeoutError(DatabaseError):
    """A statement ran longer than statement_timeout (SQLSTATE 57014)."""

    exit_code = EXIT_CHECK_FAILED


class MigrationLockError(LockTimeoutError):
    """Prisma's migration advisory lock stayed held by another session for the whole wait."""


class SnapshotFileError(InputError):
    """A saved snapshot file is missing, unreadable, not JSON or not a safemigrate snapshot."""


class UnsupportedServerError(DatabaseError):
    """The PostgreSQL server is older than safemigrate supports."""


class MigrationHistoryError(SafemigrateError):
    """_prisma_migrations refuses the requested change, as Prisma's schema engine would (P3005, P3008,
    P3009, P3011, P3012). Raised as such, the history stops a deploy or a rehearsal (a migration in
    the failed state, an applied one edited since): a failed check, nothing changed."""

    exit_code = EXIT_CHECK_FAILED


class DatabaseSchemaNotEmptyError(MigrationHistoryError):
    """P3005: the schema has tables but no _prisma_migrations; it must be baselined first."""

    exit_code = EXIT_USAGE


class MigrationAlreadyAppliedError(MigrationHistoryError):
    """P3008: the migration already has a finished row."""

    exit_code = EXIT_USAGE  # the name given is wrong for this request


class MigrationNotInDatabaseError(MigrationHistoryError):
    """P3011: the migration has no row, so it cannot be marked rolled back."""

    exit_code = EXIT_USAGE


class MigrationNotFailedError(MigrationHistoryError):
    """P3012: the migration is not in a failed state, so it cannot be marked rolled back."""

    exit_code = EXIT_USAGE


class UnknownTableError(InputError):
    """A table named for a data fingerprint (--tables) is not a table of the schema."""


class BackupError(SafemigrateError):
    """A backup could not be taken, read or restored."""

    exit_code = EXIT_CHECK_FAILED


class BackupNotFoundError(BackupError):
    """No backup with the given id, none at or before --at, none at all for --latest, or no table of
    that name in the backup (--tables)."""

    # What the user named does not exist: a usage error, as an unknown --run or --tables elsewhere.
    exit_code = EXIT_USAGE


class BackupFormatError(BackupError):
    """A manifest is not a safemigrate backup, is damaged, or is of a newer format version."""


class BackupCorruptError(BackupError):
    """A data file is missing, truncated or corrupted (its SHA-256 differs from the manifest's)."""


class RestoreRefusedError(BackupError):
    """A restore would change more than asked (a table referenced from outside the restore) or cannot fit the target."""


class RestoreTargetLacksError(RestoreRefusedError):
    """A recreated table needs a type or function the target does not have (a backup holds enum types
    only): says nothing about the backup itself."""


class BackupStoreError(BackupError):
    """The backup store cannot be reached, read or written (S3 endpoint, bucket, credentials, disk)."""


class StoreSettingError(ConfigError, BackupStoreError):
    """``[backup] store`` names something that cannot hold backups (a file, a URL that is not a
    bucket): a setting to fix, so a usage error, and a store error to whoever catches those."""

    exit_code = EXIT_USAGE


class RestoreMismatchError(BackupError):
    """After a restore, a table's counts or fingerprint differ from the manifest: rolled back."""


class CloneError(SafemigrateError):
    """A throwaway clone database could not be created, filled or reached."""
