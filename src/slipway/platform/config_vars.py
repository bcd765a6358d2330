"""Config var rules (pure): which names are allowed, the size limit, release descriptions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from slipway.platform.errors import InvalidParams

# Heroku's schema pattern is ^\w+$; ASCII only, so every language can read the variable.
CONFIG_VAR_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
MAX_CONFIG_BYTES = 32 * 1024


@dataclass(frozen=True)
class ConfigChange:
    """The result of applying a PATCH: the new map and what it set and removed."""

    config: dict[str, str]
    set_keys: tuple[str, ...]
    removed_keys: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return not self.set_keys and not self.removed_keys

    def description(self) -> str:
        """Heroku's release description: `Set A, B config vars`, `Remove C config vars`."""
        parts = []
        if self.set_keys:
            parts.append(f"Set {', '.join(self.set_keys)} config vars")
        if self.removed_keys:
            verb = "remove" if parts else "Remove"
            parts.append(f"{verb} {', '.join(self.removed_keys)} config vars")
        return " and ".join(parts)


def validate_name(name: str, *, platform_owned: bool = False) -> None:
    if not CONFIG_VAR_NAME_RE.match(name):
        raise InvalidParams(
            f"Config var name {name!r} is invalid: use only letters, digits and underscores."
        )
    if name.startswith("__"):
        raise InvalidParams(f"Config var name {name!r} is invalid: it must not start with '__'.")
    if not platform_owned and name.startswith("HEROKU_"):
        raise InvalidParams(
            f"Config var name {name!r} is reserved: names starting with HEROKU_ are set by the "
            "platform. Choose another name."
        )


def config_size(config: Mapping[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in config.items())


def apply_changes(
    current: Mapping[str, str],
    changes: Mapping[str, str | None],
    *,
    app_name: str,
    platform_owned: bool = False,
) -> ConfigChange:
    """Apply a PATCH body (None removes a key) to `current`, or raise without changing anything."""
    new = dict(current)
    set_keys: list[str] = []
    removed: list[str] = []
    for name, value in changes.items():
        if value is None:
            if name in new:
                del new[name]
                removed.append(name)
            continue
        validate_name(name, platform_owned=platform_owned)
        new[name] = value
        set_keys.append(name)
    size = config_size(new)
    if size > MAX_CONFIG_BYTES:
        raise InvalidParams(
            f"Config vars for {app_name} would take {size} bytes, over the limit of "
            f"{MAX_CONFIG_BYTES} bytes (32 KB); remove or shorten some values."
        )
    return ConfigChange(config=new, set_keys=tuple(set_keys), removed_keys=tuple(removed))
