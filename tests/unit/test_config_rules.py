from __future__ import annotations

import pytest

from slipway.platform.config_vars import MAX_CONFIG_BYTES, apply_changes
from slipway.platform.errors import InvalidParams


def test_set_and_remove_describe_themselves_as_heroku_does() -> None:
    change = apply_changes({"A": "1", "C": "3"}, {"A": "2", "B": "x", "C": None}, app_name="a")
    assert change.config == {"A": "2", "B": "x"}
    assert change.description() == "Set A, B config vars and remove C config vars"
    assert apply_changes({}, {"FOO": "1"}, app_name="a").description() == "Set FOO config vars"
    assert apply_changes({"X": "1"}, {"X": None}, app_name="a").description() == (
        "Remove X config vars"
    )


def test_removing_a_missing_key_changes_nothing() -> None:
    assert apply_changes({"A": "1"}, {"B": None}, app_name="a").is_empty


@pytest.mark.parametrize("name", ["A-B", "with space", "é", "", "__X", "HEROKU_THING", "A.B"])
def test_names_heroku_rejects(name: str) -> None:
    with pytest.raises(InvalidParams):
        apply_changes({}, {name: "v"}, app_name="a")


def test_platform_may_set_heroku_names() -> None:
    change = apply_changes(
        {}, {"HEROKU_POSTGRESQL_RED_URL": "x"}, app_name="a", platform_owned=True
    )
    assert "HEROKU_POSTGRESQL_RED_URL" in change.config


@pytest.mark.parametrize("name", ["A", "a_b", "_X", "X1", "1X"])
def test_names_heroku_accepts(name: str) -> None:
    assert name in apply_changes({}, {name: "v"}, app_name="a").config


def test_32kb_limit_counts_names_and_values_in_bytes() -> None:
    fits = "x" * (MAX_CONFIG_BYTES - 1)
    assert apply_changes({}, {"A": fits}, app_name="a").config["A"] == fits
    with pytest.raises(InvalidParams, match="32 KB"):
        apply_changes({}, {"AB": fits}, app_name="a")
    with pytest.raises(InvalidParams):
        apply_changes({}, {"A": "é" * (MAX_CONFIG_BYTES // 2)}, app_name="a")
