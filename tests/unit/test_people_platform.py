"""People's use cases in process, with a clock the test moves: expiry of tokens and
invitations, the per-address throttle, browser logins, and tails cut off when access ends.

(Over HTTP: tests/api/test_people.py; with the official CLI:
tests/compat/test_heroku_people.py.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.platform import (
    access,
    accounts,
    apps,
    authorizations,
    collaborators,
    invitations,
    signin,
    views,
)
from slipway.platform.browser_login import BrowserLogins
from slipway.platform.errors import Gone, InvalidParams, RateLimited, Unauthorized
from slipway.platform.permissions import VIEW
from slipway.platform.settings import PlatformSettings
from slipway.platform.tx import Platform
from slipway.store import Store
from slipway.store.engine import sqlite_url


class Clock:
    def __init__(self) -> None:
        self.at = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
        self.mono = 1000.0

    def now(self) -> dt.datetime:
        return self.at

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.at += dt.timedelta(seconds=seconds)
        self.mono += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def platform(tmp_path: Path, clock: Clock) -> Iterator[Platform]:
    store = Store(sqlite_url(tmp_path / "people.db"))
    store.migrate()
    settings = dataclasses.replace(
        PlatformSettings(),
        password_hash_time=1,
        password_hash_memory=64,
        login_failures_per_account=3,
        login_failures_per_address=4,
        login_failure_window=60.0,
        invitation_days=1.0,
    )
    yield Platform(store, settings, clock=clock)
    store.dispose()


@pytest.fixture
def admin(platform: Platform) -> views.Actor:
    with platform.tx() as tx:
        made = accounts.bootstrap_admin(tx, "admin@example.com")
    assert made is not None
    return views.Actor(made[0])


def _person(platform: Platform, admin: views.Actor, email: str) -> views.Actor:
    with platform.tx() as tx:
        account, _ = accounts.create_account(tx, admin, email, password="long enough pw")
    return views.Actor(account)


def test_an_expired_token_is_refused(platform: Platform, admin: views.Actor, clock: Clock) -> None:
    with platform.tx() as tx:
        made = authorizations.create_authorization(
            tx, admin, description="CI", scope=["global"], expires_in="60"
        )
    with platform.tx() as tx:
        assert authorizations.authenticate(tx, made.token).email == "admin@example.com"
    clock.advance(61)
    with platform.tx() as tx, pytest.raises(Unauthorized, match="expired"):
        authorizations.authenticate(tx, made.token)


def test_wrong_passwords_are_limited_per_address_too(
    platform: Platform, admin: views.Actor, clock: Clock
) -> None:
    for name in ("a", "b", "c", "d"):
        _person(platform, admin, f"{name}@example.com")
    # Four accounts tried once each from one address: the address is used up...
    for name in ("a", "b", "c", "d"):
        with pytest.raises(Unauthorized):
            signin.sign_in(platform, f"{name}@example.com", "wrong", address="10.0.0.9", need=VIEW)
    with pytest.raises(RateLimited) as limited:
        signin.sign_in(platform, "a@example.com", "long enough pw", address="10.0.0.9", need=VIEW)
    assert limited.value.retry_after == pytest.approx(60.0)
    # ...not the accounts, from elsewhere; and the window passes.
    assert signin.sign_in(
        platform, "a@example.com", "long enough pw", address="10.0.0.8", need=VIEW
    )
    clock.advance(61)
    assert signin.sign_in(
        platform, "b@example.com", "long enough pw", address="10.0.0.9", need=VIEW
    )


def test_an_invitation_works_once_and_expires(
    platform: Platform, admin: views.Actor, clock: Clock
) -> None:
    with platform.tx() as tx:
        first = invitations.invite(tx, admin, "New@Example.com")
        second = invitations.invite(tx, admin, "later@example.com")
    assert first.token is not None
    assert second.token is not None
    with platform.tx() as tx, pytest.raises(InvalidParams, match="too short"):
        invitations.accept(tx, first.token, password="short")
    with platform.tx() as tx:
        account = invitations.accept(tx, first.token, password="a long password", name="New")
    assert account.email == "new@example.com"
    with platform.tx() as tx, pytest.raises(Gone, match="used already"):
        invitations.accept(tx, first.token, password="a long password")
    clock.advance(86401)
    with platform.tx() as tx, pytest.raises(Gone, match="expired"):
        invitations.accept(tx, second.token, password="a long password")
    with platform.tx() as tx:
        assert accounts.find_account_row(tx, "later@example.com") is None


def test_a_browser_login_hands_its_token_over_once() -> None:
    now = [0.0]
    logins = BrowserLogins(lambda: now[0])
    started = logins.start("Heroku CLI login from vm")
    assert logins.description(started.browser_token) == "Heroku CLI login from vm"
    with pytest.raises(LookupError):
        logins.poll(started.cli_token, "not the poll token")
    assert logins.poll(started.cli_token, started.poll_token) is None
    assert logins.finish(started.browser_token, access_token="HRKU-x", error=None)
    assert not logins.finish(started.browser_token, access_token="HRKU-y", error=None)
    result = logins.poll(started.cli_token, started.poll_token)
    assert result is not None
    assert result.access_token == "HRKU-x"
    with pytest.raises(LookupError):
        logins.poll(started.cli_token, started.poll_token)
    stale = logins.start("old")
    now[0] += 601
    assert logins.description(stale.browser_token) is None


def test_a_grant_ends_when_the_token_is_revoked_or_access_removed(
    platform: Platform, admin: views.Actor
) -> None:
    bob = _person(platform, admin, "bob@example.com")
    with platform.tx() as tx:
        app = apps.create_app(tx, admin, "granted")
        collaborators.add_collaborator(tx, admin, "granted", "bob@example.com")
        token = authorizations.create_authorization(
            tx, bob, description="tail", scope=["global"], expires_in=None
        )
    grant = access.Grant(platform, token.id, app.id, VIEW)
    assert grant.still_valid()
    with platform.tx() as tx:
        collaborators.remove_collaborator(tx, admin, "granted", "bob@example.com")
    assert not grant.still_valid()
    with platform.tx() as tx:
        collaborators.add_collaborator(tx, admin, "granted", "bob@example.com")
    again = access.Grant(platform, token.id, app.id, VIEW)
    assert again.still_valid()
    with platform.tx() as tx:
        authorizations.revoke_authorization(tx, bob, token.id)
    assert not again.still_valid()
    # The platform's own streams (no token behind them) hold.
    assert access.Grant(platform, None, app.id, VIEW).still_valid()
