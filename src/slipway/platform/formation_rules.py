"""Formation rules (pure): dyno sizes, and planning a formation update before it is written.

`plan_formation` turns the CLI's updates (`{"type": "web", "quantity": "+1",
"size": "standard-2X"}`) into the new quantity and size of each process type,
or raises one clear error, before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from slipway.platform.errors import InvalidParams, NotFound


@dataclass(frozen=True)
class DynoSize:
    """A dyno size and what it may use. Memory, compute (the CPU share) and the process
    limit are Heroku's published figures; the CPU quota (at most this many CPUs,
    however idle the machine: shared sizes share) and the disk cap are Slipway's."""

    name: str
    memory_mb: int
    compute: int
    dedicated: bool
    sleeps: bool
    pids: int = 256
    cpu_quota: float = 1.0
    disk_mb: int = 2048


DYNO_SIZES: tuple[DynoSize, ...] = (
    DynoSize("eco", 512, 1, dedicated=False, sleeps=True, cpu_quota=0.5),
    DynoSize("basic", 512, 1, dedicated=False, sleeps=False),
    DynoSize("standard-1X", 512, 1, dedicated=False, sleeps=False),
    DynoSize(
        "standard-2X",
        1024,
        2,
        dedicated=False,
        sleeps=False,
        pids=512,
        cpu_quota=2.0,
        disk_mb=4096,
    ),
    DynoSize(
        "performance-M",
        2560,
        12,
        dedicated=True,
        sleeps=False,
        pids=16384,
        cpu_quota=2.0,
        disk_mb=8192,
    ),
    DynoSize(
        "performance-L",
        14336,
        50,
        dedicated=True,
        sleeps=False,
        pids=32768,
        cpu_quota=8.0,
        disk_mb=16384,
    ),
)
_SIZES_BY_KEY = {s.name.lower(): s for s in DYNO_SIZES}
# Older names people still type.
_ALIASES = {"1x": "standard-1X", "2x": "standard-2X", "pm": "performance-M", "pl": "performance-L"}

MAX_QUANTITY = 100
_QUANTITY_RE = re.compile(r"^([+-]?)(\d+)$")


def parse_size(name: str) -> DynoSize:
    """Sizes are case-insensitive (`Standard-2X`, `standard-2x`), as Heroku treats them."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key).lower()
    size = _SIZES_BY_KEY.get(key)
    if size is None:
        names = ", ".join(s.name for s in DYNO_SIZES)
        raise InvalidParams(f"Dyno size {name!r} is not known; use one of {names}.")
    return size


def display_size(name: str) -> str:
    """`standard-2X` -> `Standard-2X`, as the CLIs print it."""
    return name[:1].upper() + name[1:]


@dataclass(frozen=True)
class FormationUpdate:
    type: str
    quantity: int | str | None = None
    size: str | None = None


@dataclass(frozen=True)
class FormationEntry:
    type: str
    quantity: int
    size: str


def resolve_quantity(current: int, quantity: int | str, process_type: str) -> int:
    """Absolute (`2`, `"2"`) or relative (`"+1"`, `"-1"`) quantities; never below zero."""
    if isinstance(quantity, bool):
        raise InvalidParams(f"Quantity for {process_type} must be a number such as 2 or +1.")
    if isinstance(quantity, int):
        if quantity < 0:
            raise InvalidParams(f"Quantity for {process_type} can't be negative.")
        new = quantity
    else:
        match = _QUANTITY_RE.match(quantity.strip())
        if not match:
            raise InvalidParams(
                f"Quantity {quantity!r} for {process_type} is invalid; use a number such as "
                "2, or a change such as +1 or -1."
            )
        sign, digits = match.groups()
        value = int(digits)
        if sign == "+":
            new = current + value
        elif sign == "-":
            new = max(0, current - value)
        else:
            new = value
    if new > MAX_QUANTITY:
        raise InvalidParams(
            f"Cannot scale {process_type} to {new} dynos; the limit is {MAX_QUANTITY} per type."
        )
    return new


def plan_formation(
    current: Mapping[str, FormationEntry], updates: Iterable[FormationUpdate]
) -> dict[str, FormationEntry]:
    """Return the entries that change. Raises before returning anything if one update is bad."""
    planned: dict[str, FormationEntry] = {}
    for update in updates:
        entry = planned.get(update.type) or current.get(update.type)
        if entry is None:
            raise NotFound(
                f"Couldn't find that process type ({update.type}).", resource="formation"
            )
        quantity = entry.quantity
        if update.quantity is not None:
            quantity = resolve_quantity(entry.quantity, update.quantity, update.type)
        size = entry.size if update.size is None else parse_size(update.size).name
        planned[update.type] = FormationEntry(type=update.type, quantity=quantity, size=size)
    return planned
