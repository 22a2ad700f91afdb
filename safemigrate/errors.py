"""One hierarchy for every error a user can cause; the CLI turns each into one sentence and an exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


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
