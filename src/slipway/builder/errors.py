"""The build package's exception tree."""

from __future__ import annotations


class BuildError(Exception):
    """A build failed; `message` is the one line the pusher sees after ` !     `."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SourceError(BuildError):
    pass


class ProcfileError(BuildError):
    pass


class BuildpackError(BuildError):
    pass


class NoBuildpackDetected(BuildError):
    pass


class CompileFailed(BuildError):
    pass
