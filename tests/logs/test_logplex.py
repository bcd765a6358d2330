"""The Logplex core: line format, splitting, history on disk, filters, tails, sessions."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from slipway.logs.history import LogHistory
from slipway.logs.line import LogLine, sanitize, split_message
from slipway.logs.plex import LogFilter, Logplex
from slipway.logs.sessions import FETCH_WINDOW, SessionSigner

T0 = dt.datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=dt.UTC)


def test_heroku_line_format() -> None:
    line = LogLine("a", 1, T0, "heroku", "web.1", "State changed from starting to up")
    assert line.format() == (
        "2026-11-27T12:00:00.123456+00:00 heroku[web.1]: State changed from starting to up"
    )
    assert line.process_type == "web"


def test_long_lines_split_at_10000_bytes_without_breaking_characters() -> None:
    assert split_message("short") == ["short"]
    pieces = split_message("é" * 6000)  # 12,000 bytes
    assert [len(p.encode()) for p in pieces] == [10000, 2000]
    assert "".join(pieces) == "é" * 6000
    assert all(len(p.encode()) <= 10000 for p in split_message("x" * 25001))


def test_control_characters_cannot_break_framing() -> None:
    assert sanitize("a\nb\r\x00c\td\x1b") == "a\\x0ab\\x0d\\x00c\td\\x1b"
    assert sanitize("naïve ✓") == "naïve ✓"


def test_history_survives_a_restart_and_stays_bounded(tmp_path: Path) -> None:
    history = LogHistory(tmp_path, limit=10)
    plex = Logplex(history, clock=lambda: T0)
    for i in range(35):
        plex.publish("app1", "app", "web.1", f"line {i}")
    plex.close()
    size_lines = len((tmp_path / "app1.jsonl").read_text().splitlines())
    assert size_lines < 20  # compacted, not growing without bound
    again = Logplex(LogHistory(tmp_path, limit=10), clock=lambda: T0)
    recent = again.recent("app1", LogFilter(), 100)
    assert [line.message for line in recent] == [f"line {i}" for i in range(25, 35)]
    # Sequence numbers continue after a restart.
    again.publish("app1", "app", "web.1", "after restart")
    assert again.recent("app1", LogFilter(), 1)[0].seq == 36


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    plex = Logplex(LogHistory(tmp_path), clock=lambda: T0)
    plex.publish("a", "app", "web.1", "whole")
    plex.close()
    with (tmp_path / "a.jsonl").open("a") as fh:
        fh.write('{"s": 2, "t": "2026')
    assert [line.message for line in LogHistory(tmp_path).recent("a")] == ["whole"]


def test_filters_by_source_dyno_and_type() -> None:
    lines = [
        LogLine("a", 1, T0, "app", "web.1", "w1"),
        LogLine("a", 2, T0, "app", "web.2", "w2"),
        LogLine("a", 3, T0, "heroku", "router", "r"),
        LogLine("a", 4, T0, "app", "worker.1", "k"),
    ]

    def pick(f: LogFilter) -> list[str]:
        return [line.message for line in lines if f.matches(line)]

    assert pick(LogFilter(source="heroku")) == ["r"]
    assert pick(LogFilter(dyno="web")) == ["w1", "w2"]
    assert pick(LogFilter(dyno="web.2")) == ["w2"]
    assert pick(LogFilter(source="app", dyno="worker")) == ["k"]


def test_a_slow_tail_loses_the_oldest_and_is_told_with_l11(tmp_path: Path) -> None:
    async def scenario() -> list[str]:
        plex = Logplex(LogHistory(tmp_path), clock=lambda: T0)
        sub = plex.subscribe("a", LogFilter(), asyncio.get_running_loop(), maxsize=5)
        for i in range(12):
            plex.publish("a", "app", "web.1", f"m{i}")
        batch = await sub.next_batch(1.0)
        plex.unsubscribe(sub)
        return [line.format() for line in batch]

    out = asyncio.run(scenario())
    assert (
        "heroku[logplex]: Error L11 (Tail buffer overflow) -> This tail session dropped 7" in out[0]
    )
    assert [o.rsplit(": ", 1)[1] for o in out[1:]] == ["m7", "m8", "m9", "m10", "m11"]


def test_a_tail_wakes_when_a_line_arrives(tmp_path: Path) -> None:
    async def scenario() -> float:
        plex = Logplex(LogHistory(tmp_path), clock=lambda: T0)
        loop = asyncio.get_running_loop()
        sub = plex.subscribe("a", LogFilter(), loop)
        loop.call_later(0.05, plex.publish, "a", "app", "web.1", "hello")
        start = loop.time()
        batch = await sub.next_batch(5.0)
        assert [line.message for line in batch] == ["hello"]
        return loop.time() - start

    assert asyncio.run(scenario()) < 1.0


def test_session_tokens_are_signed_and_expire() -> None:
    now = [1000.0]
    signer = SessionSigner(b"k" * 32, now=lambda: now[0])
    token = signer.issue("app-id", 50, False, "app", "web")
    params = signer.verify(token)
    assert params is not None
    assert (params.app_id, params.lines, params.tail, params.source, params.dyno) == (
        "app-id",
        50,
        False,
        "app",
        "web",
    )
    assert signer.verify(token[:-1] + ("0" if token[-1] != "0" else "1")) is None
    assert signer.verify("garbage") is None
    assert SessionSigner(b"other" * 8, now=lambda: now[0]).verify(token) is None
    now[0] += FETCH_WINDOW + 1
    assert signer.verify(token) is None
    tail = signer.issue("app-id", 10, True, None, None)
    assert signer.verify(tail) is not None  # tail sessions stay valid for reconnects


def test_a_dead_drain_does_not_delay_a_tail(tmp_path: Path) -> None:
    import socket

    from slipway.logs.drains import DrainDispatcher, DrainSpec

    silent = socket.socket()  # accepts connections, never reads
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    dispatcher = DrainDispatcher(buffer_size=100)
    dispatcher.start()
    dispatcher.set_drains(
        "a", [DrainSpec("d1", "d.x", f"syslog://127.0.0.1:{silent.getsockname()[1]}")]
    )

    async def scenario() -> tuple[float, int]:
        plex = Logplex(LogHistory(tmp_path), dispatcher, clock=lambda: T0)
        loop = asyncio.get_running_loop()
        sub = plex.subscribe("a", LogFilter(), loop, maxsize=30_000)
        start = loop.time()
        for i in range(20_000):
            plex.publish("a", "app", "web.1", f"line {i} " + "x" * 200)
        got = 0
        while got < 20_000 and loop.time() - start < 10:
            got += len(await sub.next_batch(1.0))
        return loop.time() - start, got

    try:
        elapsed, got = asyncio.run(scenario())
    finally:
        dispatcher.close(timeout=1)
        silent.close()
    assert got == 20_000
    assert elapsed < 5.0
    assert dispatcher.stats("d1").dropped > 0  # the dead drain shed lines instead of blocking


def test_live_tails_per_app_are_capped(tmp_path: Path) -> None:
    import pytest

    from slipway.logs.plex import MAX_TAILS_PER_APP, TooManyTails

    async def scenario() -> None:
        plex = Logplex(LogHistory(tmp_path), clock=lambda: T0)
        loop = asyncio.get_running_loop()
        subs = [plex.subscribe("a", LogFilter(), loop) for _ in range(MAX_TAILS_PER_APP)]
        with pytest.raises(TooManyTails):
            plex.subscribe("a", LogFilter(), loop)
        plex.subscribe("b", LogFilter(), loop)  # other apps are unaffected
        plex.unsubscribe(subs[0])
        plex.subscribe("a", LogFilter(), loop)

    asyncio.run(scenario())


def test_history_counts_what_it_drops(tmp_path: Path) -> None:
    plex = Logplex(LogHistory(tmp_path, limit=10), clock=lambda: T0)
    for i in range(25):
        plex.publish("a", "app", "web.1", f"line {i}")
    assert plex.history.evicted == {"a": 15}
