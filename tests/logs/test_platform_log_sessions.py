"""Log sessions and the log stream as platform use cases, over the real log port
(`LogService`: a real Logplex with history on disk and a real session signer)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from slipway.logs.history import LogHistory
from slipway.logs.plex import MAX_TAILS_PER_APP, Logplex
from slipway.logs.service import LogService
from slipway.logs.sessions import SessionSigner
from slipway.platform import accounts, apps, log_sessions, views
from slipway.platform.errors import InvalidParams, NotFound, Unavailable
from slipway.platform.ports import LogEntry
from slipway.platform.tx import Platform
from slipway.store import Store
from slipway.store.engine import sqlite_url

T0 = dt.datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=dt.UTC)


@pytest.fixture
def plex(tmp_path: Path) -> Iterator[Logplex]:
    plex = Logplex(LogHistory(tmp_path / "logs", limit=10), clock=lambda: T0)
    yield plex
    plex.close()


@pytest.fixture
def platform(tmp_path: Path, plex: Logplex) -> Iterator[Platform]:
    store = Store(sqlite_url(tmp_path / "s.db"))
    store.migrate()
    platform = Platform(store)
    platform.ports.logs = LogService(plex, SessionSigner(b"k" * 32))
    yield platform
    store.dispose()


@pytest.fixture
def admin(platform: Platform) -> views.Actor:
    with platform.tx() as tx:
        created = accounts.bootstrap_admin(tx, "a@example.com")
        assert created is not None
    return views.Actor(created[0])


@pytest.fixture
def app_id(platform: Platform, admin: views.Actor) -> str:
    with platform.tx() as tx:
        return apps.create_app(tx, admin, "logged").id


def session(
    platform: Platform,
    actor: views.Actor,
    lines: int | None = None,
    *,
    tail: bool = False,
    source: str | None = None,
    dyno: str | None = None,
) -> views.LogSession:
    with platform.tx() as tx:
        return log_sessions.create_log_session(
            tx, actor, "logged", lines=lines, tail=tail, source=source, dyno=dyno
        )


def messages(lines: Sequence[LogEntry]) -> list[str]:
    return [line.format().rsplit(": ", 1)[1] for line in lines]


def test_sessions_check_lines_and_source(platform: Platform, admin: views.Actor) -> None:
    with pytest.raises(InvalidParams, match=r"^lines must be between 0 and 1500; got 1501\.$"):
        session(platform, admin, 1501)
    with pytest.raises(InvalidParams, match=r"^source 'x' is not known; use app or heroku\.$"):
        session(platform, admin, source="x")


def test_a_session_warns_when_the_history_it_asks_for_was_dropped(
    platform: Platform, admin: views.Actor, app_id: str, plex: Logplex
) -> None:
    for i in range(25):
        plex.publish(app_id, "app", "web.1", f"line {i}")
    assert session(platform, admin).warning == (
        "Only the last 10 lines are kept; 15 older lines were dropped."
    )
    assert session(platform, admin, 10).warning is None


def test_the_stream_shows_the_session_filter_and_lines(
    platform: Platform, admin: views.Actor, app_id: str, plex: Logplex
) -> None:
    plex.publish(app_id, "app", "web.1", "one")
    plex.publish(app_id, "heroku", "router", "two")
    plex.publish(app_id, "app", "worker.1", "three")
    plex.publish(app_id, "app", "web.2", "four")
    token = session(platform, admin, 1, dyno="web").token
    stream = log_sessions.open_log_stream(platform, token)
    assert not stream.tailing
    assert messages(stream.backlog()) == ["four"]
    # Resuming after an event id gives what followed it, whatever the line count.
    resumed = log_sessions.open_log_stream(platform, token, after=0)
    assert messages(resumed.backlog()) == ["one", "four"]


def test_a_bad_token_is_not_found(platform: Platform) -> None:
    with pytest.raises(NotFound, match=r"^This log session is not valid or has expired\.$"):
        log_sessions.open_log_stream(platform, "forged.token")


def test_a_tail_subscribes_before_history_and_shows_each_line_once(
    platform: Platform, admin: views.Actor, app_id: str, plex: Logplex
) -> None:
    token = session(platform, admin, tail=True).token

    async def scenario() -> tuple[list[str], list[str], list[str]]:
        plex.publish(app_id, "app", "web.1", "before")
        stream = log_sessions.open_log_stream(platform, token)
        assert stream.tailing
        plex.publish(app_id, "app", "web.1", "between")  # in the tail and in history
        backlog = messages(stream.backlog())
        fresh = messages(await stream.next_batch(1.0))
        plex.publish(app_id, "app", "web.1", "after")
        later = messages(await stream.next_batch(1.0))
        stream.close()
        return backlog, fresh, later

    assert asyncio.run(scenario()) == (["before", "between"], [], ["after"])


def test_too_many_tails_is_l20_and_closing_one_frees_it(
    platform: Platform, admin: views.Actor, app_id: str
) -> None:
    token = session(platform, admin, tail=True).token

    async def scenario() -> None:
        streams = [log_sessions.open_log_stream(platform, token) for _ in range(MAX_TAILS_PER_APP)]
        with pytest.raises(Unavailable, match=r"^Error L20 \(Tail sessions forbidden\): "):
            log_sessions.open_log_stream(platform, token)
        streams[0].close()
        log_sessions.open_log_stream(platform, token).close()
        for stream in streams[1:]:
            stream.close()

    asyncio.run(scenario())


def test_without_a_log_port_sessions_are_unavailable(
    platform: Platform, admin: views.Actor, app_id: str
) -> None:
    token = session(platform, admin).token
    platform.ports.logs = None
    with pytest.raises(Unavailable, match="keeps no log streams"):
        session(platform, admin)
    with pytest.raises(Unavailable, match="keeps no log streams"):
        log_sessions.open_log_stream(platform, token)
