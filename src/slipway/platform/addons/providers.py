"""The add-on providers as the platform reaches them: the `addons` port, and their errors.

A provider raises only AddonError; `platform_error` is the one place that turns
it into the platform's own errors (and so the API's status codes).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from slipway.addons.errors import AddonError
from slipway.addons.provider import Provider
from slipway.platform.errors import Conflict, InvalidParams, NotFound, PlatformError, Unavailable
from slipway.platform.ports import Ports


def platform_error(exc: AddonError) -> PlatformError:
    """A provider's error as the API reports it: 404, 409, 422 or 503 by its Heroku id."""
    if exc.id == "not_found":
        return NotFound(exc.message, resource="addon")
    if exc.id == "invalid_params":
        return InvalidParams(exc.message)
    if exc.id == "conflict":
        return Conflict(exc.message)
    return Unavailable(exc.message)


@contextlib.contextmanager
def provider_errors() -> Iterator[None]:
    """Around a provider call: its AddonError leaves as the matching platform error."""
    try:
        yield
    except AddonError as exc:
        raise platform_error(exc) from exc


def provider_for(ports: Ports, service: str) -> Provider:
    """The provider of `service` ("heroku-postgresql"), or Unavailable."""
    provider = ports.addons.get(service)
    if provider is None:
        raise Unavailable(f"The {service} provider is not available on this server.")
    return provider
