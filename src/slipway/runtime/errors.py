"""The runtime's exception tree: everything the dyno manager raises derives from DynoError."""

from __future__ import annotations


class DynoError(Exception):
    """A dyno could not be created, found or controlled. The message is for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DynoNotFound(DynoError):
    pass


class DynoRejected(DynoError):
    """The request was understood but cannot be carried out (bad command, limits)."""


class SlugUnavailable(DynoError):
    """The release's slug archive is missing or corrupt (Heroku's R17)."""
