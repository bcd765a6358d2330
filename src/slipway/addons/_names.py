"""Names and passwords for add-on resources, and the check that an id could be one of ours."""

from __future__ import annotations

import re
import secrets
import string

from slipway.addons.errors import ResourceNotFound

_ALPHABET = string.ascii_lowercase + string.digits
_RESOURCE_ID = re.compile(r"^[a-z][a-z0-9-]{2,62}$")


def random_name(prefix: str, length: int = 12) -> str:
    """Heroku-style random identifier: `prefix` + lowercase letters and digits."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_password() -> str:
    """64 hex characters (256 bits): safe in URLs, config files and SQL literals."""
    return secrets.token_hex(32)


def check_resource_id(resource_id: str, service: str) -> str:
    """Refuse anything that could not be one of our ids (and so never reaches a path)."""
    if not _RESOURCE_ID.match(resource_id):
        raise ResourceNotFound(f"There is no {service} resource called {resource_id!r}.")
    return resource_id
