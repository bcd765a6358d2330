"""The add-ons exception tree. Every error carries one sentence for the user.

`message` says what was wrong and what to do; it never holds a password or an
admin credential. `id` is the Heroku error id the API answers with.
"""

from __future__ import annotations


class AddonError(Exception):
    """Base of every error an add-on provider reports."""

    id = "invalid_params"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownService(AddonError):
    """No provider offers that service name or alias."""

    id = "not_found"


class UnknownPlan(AddonError):
    """The service has no plan of that name."""

    id = "not_found"


class InvalidOptions(AddonError):
    """Provision options (`addons:create ... -- --key value`) the provider does not accept."""


class ResourceNotFound(AddonError):
    """No add-on resource (or backup) with that id on this provider."""

    id = "not_found"


class ProviderUnavailable(AddonError):
    """The server behind a provider is down, missing, or refused the admin credentials."""

    id = "unavailable"


class PortInUse(ProviderUnavailable):
    """A port the provider needs (or kept for an add-on) is held by another program."""

    def __init__(self, message: str, port: int) -> None:
        super().__init__(message)
        self.port = port


class BackupFailed(AddonError):
    """pg_dump or pg_restore failed."""


def redact(text: str, *secrets: str | None) -> str:
    """`text` with every non-empty secret replaced, for messages built from server output."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


def sentence(text: str) -> str:
    """One line, no trailing period (the caller's sentence adds its own)."""
    line = " ".join(text.split())
    return line.rstrip(".")
