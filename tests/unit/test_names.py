from __future__ import annotations

import random

import pytest

from slipway.platform.errors import InvalidParams
from slipway.platform.names import APP_NAME_RE, generate_app_name, validate_app_name


def test_generated_names_are_valid_and_heroku_shaped() -> None:
    rng = random.Random(7)
    names = {generate_app_name(rng) for _ in range(500)}
    assert len(names) > 490
    for name in names:
        assert APP_NAME_RE.match(name)
        adjective, noun, number = name.split("-")
        assert adjective.isalpha()
        assert noun.isalpha()
        assert number.isdigit()


@pytest.mark.parametrize("name", ["ab", "1app", "App", "app-", "a" * 31, "my_app", "-app"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(InvalidParams):
        validate_app_name(name)


@pytest.mark.parametrize("name", ["abc", "my-app-2", "a" * 30])
def test_valid_names(name: str) -> None:
    validate_app_name(name)


@pytest.mark.parametrize("name", ["api", "git", "dashboard"])
def test_the_platforms_own_host_names_are_reserved(name: str) -> None:
    with pytest.raises(InvalidParams, match=f"reserved for the platform's own {name}"):
        validate_app_name(name)
