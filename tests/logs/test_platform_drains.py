"""`platform.drains.add_drain`: the drain URL is a platform rule, checked before anything
is stored, with the real probe (`ReachabilityProbe`) against real sockets."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.logs.drains import ReachabilityProbe
from slipway.platform import accounts, apps, drains, views
from slipway.platform.errors import Forbidden, InvalidParams, NotFound, Unavailable
from slipway.platform.tx import Platform
from slipway.store import Store
from slipway.store.engine import sqlite_url


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    store = Store(sqlite_url(tmp_path / "s.db"))
    store.migrate()
    platform = Platform(store)
    platform.ports.drain_probe = ReachabilityProbe(timeout=1.0)
    yield platform
    store.dispose()


@pytest.fixture
def admin(platform: Platform) -> views.Actor:
    with platform.tx() as tx:
        created = accounts.bootstrap_admin(tx, "a@example.com")
        assert created is not None
        apps.create_app(tx, views.Actor(created[0]), "drained")
    return views.Actor(created[0])


def stored(platform: Platform, actor: views.Actor) -> list[str]:
    with platform.tx() as tx:
        return [d.url for d in drains.list_drains(tx, actor, "drained")]


def test_a_reachable_drain_is_added(platform: Platform, admin: views.Actor) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"syslog://127.0.0.1:{listener.getsockname()[1]}"
        added = drains.add_drain(platform, admin, "drained", url)
    assert added.url == url
    assert added.token.startswith("d.")
    assert stored(platform, admin) == [url]


def test_a_bad_or_unreachable_url_is_refused_before_anything_is_stored(
    platform: Platform, admin: views.Actor
) -> None:
    with pytest.raises(InvalidParams, match=r"^A syslog drain needs a port, such as syslog://"):
        drains.add_drain(platform, admin, "drained", "syslog://127.0.0.1")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        closed = listener.getsockname()[1]
    with pytest.raises(
        InvalidParams,
        match=rf"^127\.0\.0\.1:{closed} cannot be reached: .*; check the host and port\.$",
    ):
        drains.add_drain(platform, admin, "drained", f"syslog://127.0.0.1:{closed}")
    assert stored(platform, admin) == []


def test_access_is_checked_before_the_probe_connects(
    platform: Platform, admin: views.Actor
) -> None:
    """Nobody may make the platform connect to hosts for an app they cannot touch."""
    with platform.tx() as tx:
        made, _ = accounts.create_account(tx, admin, "stranger@example.com")
        stranger = views.Actor(made)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.5)
        url = f"syslog://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(Forbidden, match=r"^You do not have access to the app drained\.$"):
            drains.add_drain(platform, stranger, "drained", url)
        with pytest.raises(NotFound, match=r"^Couldn't find that app\.$"):
            drains.add_drain(platform, stranger, "no-such-app", url)
        with pytest.raises(TimeoutError):
            listener.accept()
    assert stored(platform, admin) == []


def test_without_a_probe_drains_cannot_be_added(platform: Platform, admin: views.Actor) -> None:
    platform.ports.drain_probe = None
    with pytest.raises(Unavailable, match="cannot check drain URLs"):
        drains.add_drain(platform, admin, "drained", "syslog://127.0.0.1:6514")
    assert stored(platform, admin) == []
