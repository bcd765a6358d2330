from __future__ import annotations

import pytest

from slipway.platform.errors import InvalidParams, NotFound
from slipway.platform.formation_rules import (
    MAX_QUANTITY,
    FormationEntry,
    FormationUpdate,
    display_size,
    parse_size,
    plan_formation,
    resolve_quantity,
)

CURRENT = {
    "web": FormationEntry("web", 1, "basic"),
    "worker": FormationEntry("worker", 0, "basic"),
}


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [(3, 3), ("3", 3), ("+1", 2), ("-1", 0), ("-5", 0), ("+0", 1), (" 2 ", 2), (0, 0)],
)
def test_quantities_absolute_and_relative(quantity: int | str, expected: int) -> None:
    assert resolve_quantity(1, quantity, "web") == expected


@pytest.mark.parametrize("quantity", ["two", "1.5", "", "++1", -1, True, MAX_QUANTITY + 1])
def test_bad_quantities(quantity: int | str) -> None:
    with pytest.raises(InvalidParams):
        resolve_quantity(1, quantity, "web")


def test_sizes_are_case_insensitive_with_their_memory() -> None:
    assert parse_size("Standard-2X").name == "standard-2X"
    assert parse_size("standard-2x").memory_mb == 1024
    assert parse_size("performance-l").memory_mb == 14336
    assert parse_size("EcO").sleeps
    assert display_size("standard-1X") == "Standard-1X"
    with pytest.raises(InvalidParams, match="standard-2X"):
        parse_size("huge")


def test_plan_applies_every_update_or_none() -> None:
    planned = plan_formation(
        CURRENT,
        [FormationUpdate("web", "+2", "standard-2x"), FormationUpdate("worker", 1)],
    )
    assert planned == {
        "web": FormationEntry("web", 3, "standard-2X"),
        "worker": FormationEntry("worker", 1, "basic"),
    }
    with pytest.raises(NotFound, match=r"Couldn't find that process type \(clock\)"):
        plan_formation(CURRENT, [FormationUpdate("web", 5), FormationUpdate("clock", 1)])


def test_two_updates_of_one_type_compose() -> None:
    planned = plan_formation(CURRENT, [FormationUpdate("web", "+1"), FormationUpdate("web", "+1")])
    assert planned["web"].quantity == 3


def test_size_only_update_keeps_quantity() -> None:
    planned = plan_formation(CURRENT, [FormationUpdate("web", None, "performance-M")])
    assert planned["web"] == FormationEntry("web", 1, "performance-M")
