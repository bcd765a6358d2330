"""The CLI's exception tree: every failure is one sentence and an exit code."""

from __future__ import annotations

# Exit codes, documented in the README.
EXIT_ERROR = 1
EXIT_UNREACHABLE = 3
EXIT_NOT_LOGGED_IN = 100


class CliError(Exception):
    exit_code = EXIT_ERROR

    def __init__(self, message: str, *, error_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_id = error_id


class NotLoggedIn(CliError):
    exit_code = EXIT_NOT_LOGGED_IN


class Unreachable(CliError):
    exit_code = EXIT_UNREACHABLE
