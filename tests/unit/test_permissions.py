"""The pure rules: token scopes, app permissions, the route table's completeness checks."""

from __future__ import annotations

import pytest

from slipway.platform.permissions import (
    ACCOUNT,
    ALL_PERMISSIONS,
    CONFIG_READ,
    CONFIG_WRITE,
    DEPLOY,
    OWNER,
    SIGNED_IN,
    VIEW,
    Permission,
    Scope,
    Standing,
    normalise_permissions,
    parse_scopes,
    permission_refusal,
    scope_refusal,
)
from slipway.platform.throttle import FailureThrottle


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        ({Scope.GLOBAL}, {"view", "config", "deploy", "config-write", "account"}),
        ({Scope.READ}, {"view"}),
        ({Scope.READ_PROTECTED}, {"view", "config"}),
        ({Scope.WRITE}, {"view", "deploy"}),
        ({Scope.WRITE_PROTECTED}, {"view", "config", "deploy", "config-write"}),
        ({Scope.IDENTITY}, set()),
    ],
)
def test_what_each_scope_lets_a_token_do(scopes: set[Scope], allowed: set[str]) -> None:
    needs = {
        "view": VIEW,
        "config": CONFIG_READ,
        "deploy": DEPLOY,
        "config-write": CONFIG_WRITE,
        "account": ACCOUNT,
    }
    passed = {name for name, n in needs.items() if scope_refusal(frozenset(scopes), n) is None}
    assert passed == allowed
    # Who you are is for every token.
    assert scope_refusal(frozenset(scopes), SIGNED_IN) is None


def test_an_unknown_scope_is_named() -> None:
    with pytest.raises(ValueError, match="'admin' is not known"):
        parse_scopes(["read", "admin"])
    assert parse_scopes([]) == {Scope.GLOBAL}


def test_permissions_follow_heroku() -> None:
    viewer = Standing(frozenset({Permission.VIEW}), owner=False)
    deployer = Standing(frozenset({Permission.VIEW, Permission.DEPLOY}), owner=False)
    collaborator = Standing(ALL_PERMISSIONS, owner=False)
    owner = Standing(ALL_PERMISSIONS, owner=True)
    assert permission_refusal(None, VIEW, "app") == "You do not have access to the app app."
    assert permission_refusal(viewer, VIEW, "app") is None
    assert "deploy" in (permission_refusal(viewer, DEPLOY, "app") or "")
    assert permission_refusal(deployer, DEPLOY, "app") is None
    assert permission_refusal(deployer, CONFIG_WRITE, "app") is None  # deploy or operate
    # A personal app's collaborator does everything but the owner's few things.
    assert permission_refusal(collaborator, CONFIG_WRITE, "app") is None
    assert "Only the owner" in (permission_refusal(collaborator, OWNER, "app") or "")
    assert permission_refusal(owner, OWNER, "app") is None


def test_view_always_comes_with_permissions_and_unknown_ones_are_refused() -> None:
    assert normalise_permissions(["deploy"]) == {Permission.VIEW, Permission.DEPLOY}
    with pytest.raises(ValueError, match="'sudo' is not known"):
        normalise_permissions(["sudo"])


def test_the_throttle_counts_failures_in_a_window() -> None:
    now = [100.0]
    throttle = FailureThrottle(60.0, lambda: now[0])
    for _ in range(3):
        assert throttle.retry_after("k", 3) is None
        throttle.fail("k")
    wait = throttle.retry_after("k", 3)
    assert wait == pytest.approx(60.0)
    now[0] += 30
    assert throttle.retry_after("k", 3) == pytest.approx(30.0)
    now[0] += 31
    assert throttle.retry_after("k", 3) is None
    throttle.fail("k")
    throttle.clear("k")
    assert throttle.retry_after("k", 1) is None
