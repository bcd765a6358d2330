"""The dyno and router-feed use cases reach the dyno manager only through the platform's ports.

Fakes stand in for the DynoManager here (a real store on SQLite); the real
wiring, with a real manager behind both ports, is exercised end to end by
tests/dynos/ (e.g. test_lifecycle.py for `ps`, restarts and one-offs, and
test_routing.py for the route stream, the router's lines and wake).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from slipway.platform import accounts, apps, dynos, router_feed, views
from slipway.platform.errors import NotFound, Unavailable
from slipway.platform.events import AppLog, Event
from slipway.platform.tx import Platform
from slipway.runtime.errors import DynoNotFound
from slipway.runtime.manager import DynoInfo, OneOffRequest, ReleaseOutcome
from slipway.store import Store
from slipway.store.engine import sqlite_url

NOW = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


class FakeRuntime:
    def __init__(self) -> None:
        self.infos: list[DynoInfo] = []
        self.calls: list[tuple[str, str, str | None, str | None]] = []

    def dynos(self, app_id: str) -> list[DynoInfo]:
        return [i for i in self.infos if i.app_id == app_id]

    def restart(self, app_id: str, *, ptype: str | None = None, name: str | None = None) -> None:
        self.calls.append(("restart", app_id, ptype, name))

    def stop(self, app_id: str, *, ptype: str | None = None, name: str | None = None) -> None:
        if name == "web.9":
            raise DynoNotFound("Couldn't find that dyno (web.9).")
        self.calls.append(("stop", app_id, ptype, name))

    def run(self, app_id: str, request: OneOffRequest) -> DynoInfo:
        raise AssertionError("not used here")

    def wait_release(
        self, app_id: str, version: int, on_line: Callable[[str], None]
    ) -> ReleaseOutcome:
        raise AssertionError("not used here")


class FakeFeed:
    def __init__(self) -> None:
        self.listeners: list[Callable[[], None]] = []
        self.activities: list[dict[str, float]] = []
        self.woken: list[str] = []

    def route_table(self) -> list[dict[str, Any]]:
        return [{"id": "a1", "name": "app", "state": "up", "dynos": []}]

    def add_route_listener(self, listener: Callable[[], None]) -> None:
        self.listeners.append(listener)

    def remove_route_listener(self, listener: Callable[[], None]) -> None:
        self.listeners.remove(listener)

    def wait_loaded(self, timeout: float) -> bool:
        return True

    def activity(self, last_requests: dict[str, float]) -> None:
        self.activities.append(last_requests)

    def wake(self, app_id: str) -> None:
        self.woken.append(app_id)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    store = Store(sqlite_url(tmp_path / "p.db"))
    store.migrate()
    yield Platform(store)
    store.dispose()


@pytest.fixture
def owner(platform: Platform) -> views.Actor:
    with platform.tx() as tx:
        created = accounts.bootstrap_admin(tx, "owner@example.com")
        assert created is not None
        apps.create_app(tx, views.Actor(created[0]), "ported")
        return views.Actor(created[0])


def _events(platform: Platform) -> list[Event]:
    seen: list[Event] = []
    platform.bus.subscribe(seen.append)
    return seen


def test_without_a_dyno_manager_the_use_cases_say_so(
    platform: Platform, owner: views.Actor
) -> None:
    with (
        pytest.raises(Unavailable, match=r"^This server runs no dyno manager\.$"),
        platform.tx() as tx,
    ):
        dynos.list_dynos(tx, owner, "ported")
    with pytest.raises(Unavailable), platform.tx() as tx:
        dynos.restart(tx, owner, "ported")
    with pytest.raises(Unavailable), platform.tx() as tx:
        dynos.create_dyno(
            tx,
            owner,
            "ported",
            command="bash",
            attach=False,
            size=None,
            env={},
            force_no_tty=True,
        )
    with pytest.raises(Unavailable):
        router_feed.ensure_available(platform)
    with pytest.raises(Unavailable):
        router_feed.report(platform, [("a1", "at=info")], {})
    with pytest.raises(Unavailable):
        router_feed.wake(platform, "a1")


def test_dyno_use_cases_go_through_the_runtime_port(platform: Platform, owner: views.Actor) -> None:
    runtime = FakeRuntime()
    platform.ports.dyno_runtime = runtime
    with platform.tx() as tx:
        app_id = apps.get_app(tx, owner, "ported").id
    runtime.infos = [
        DynoInfo("d1", app_id, "web.1", "web", "serve", "basic", "up", 1, None, NOW, NOW, 5000)
    ]
    seen = _events(platform)
    with platform.tx() as tx:
        (view,) = dynos.list_dynos(tx, owner, "ported")
        assert view.info.name == "web.1"
        assert view.app_name == "ported"
        assert dynos.get_dyno(tx, owner, "ported", "d1") == view
        # `/dynos/web` names a process type, `/dynos/web.1` one dyno.
        dynos.restart(tx, owner, "ported", name="web")
        dynos.stop(tx, owner, "ported", name="web.1")
    assert runtime.calls == [
        ("restart", app_id, "web", None),
        ("stop", app_id, None, "web.1"),
    ]
    assert [e.message for e in seen if isinstance(e, AppLog)] == [
        "Restart web by user owner@example.com",
        "Stop web.1 by user owner@example.com",
    ]
    with pytest.raises(NotFound, match=r"web\.9"), platform.tx() as tx:
        dynos.stop(tx, owner, "ported", name="web.9")


def test_the_router_feed_goes_through_its_port(platform: Platform) -> None:
    feed = FakeFeed()
    platform.ports.router_feed = feed
    table = router_feed.route_table(platform, 3)
    assert table == {
        "version": 3,
        "base_domain": platform.settings.base_domain,
        "apps": feed.route_table(),
        "services": [],
    }
    assert router_feed.wait_until_loaded(platform, 1)

    def poke() -> None:
        pass

    with router_feed.watching(platform, poke):
        assert feed.listeners == [poke]
    assert feed.listeners == []
    router_feed.wake(platform, "a1")
    assert feed.woken == ["a1"]


def test_router_lines_become_app_log_events(platform: Platform) -> None:
    feed = FakeFeed()
    platform.ports.router_feed = feed
    seen = _events(platform)
    count = router_feed.report(platform, [("a1", "at=info method=GET"), ("a2", "at=error")], {})
    assert count == 2
    assert seen == [
        AppLog("a1", "heroku", "router", "at=info method=GET"),
        AppLog("a2", "heroku", "router", "at=error"),
    ]
    assert feed.activities == []
    router_feed.report(platform, [], {"a1": 1700000000.0})
    assert feed.activities == [{"a1": 1700000000.0}]
