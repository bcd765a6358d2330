"""Logplex as the platform's log port: signed sessions, history and live tails.

The platform's log session use cases (`platform/log_sessions.py`) reach Logplex
through `platform.ports.LogPort`; this is that port, in the plain terms the
platform speaks (an app id, a source, a dyno), so nothing above it imports
Logplex's types. The server wires it in.
"""

from __future__ import annotations

import asyncio

from slipway.logs.line import LogLine
from slipway.logs.plex import LogFilter, Logplex, TailSubscription, TooManyTails
from slipway.logs.sessions import SessionParams, SessionSigner


class LogTail:
    """A live tail and the Logplex it unsubscribes from when closed."""

    __slots__ = ("_plex", "_sub")

    def __init__(self, plex: Logplex, sub: TailSubscription) -> None:
        self._plex = plex
        self._sub = sub

    async def next_batch(self, timeout: float) -> list[LogLine]:
        return await self._sub.next_batch(timeout)

    def close(self) -> None:
        self._plex.unsubscribe(self._sub)


class LogService:
    """Logplex and its session signer, behind `platform.ports.LogPort`."""

    def __init__(self, plex: Logplex, signer: SessionSigner) -> None:
        self._plex = plex
        self._signer = signer

    @property
    def history_limit(self) -> int:
        return self._plex.history.limit

    def issue_session(
        self,
        app_id: str,
        lines: int,
        tail: bool,
        source: str | None,
        dyno: str | None,
        grant: str | None = None,
    ) -> str:
        return self._signer.issue(app_id, lines, tail, source, dyno, grant)

    def verify_session(self, token: str) -> SessionParams | None:
        return self._signer.verify(token)

    def kept(self, app_id: str) -> int:
        return len(self._plex.history.recent(app_id))

    def evicted(self, app_id: str) -> int:
        return self._plex.history.evicted.get(app_id, 0)

    def recent(
        self, app_id: str, source: str | None, dyno: str | None, lines: int
    ) -> list[LogLine]:
        return self._plex.recent(app_id, LogFilter(source, dyno), lines)

    def since(self, app_id: str, source: str | None, dyno: str | None, seq: int) -> list[LogLine]:
        return self._plex.since(app_id, LogFilter(source, dyno), seq)

    def subscribe(self, app_id: str, source: str | None, dyno: str | None) -> LogTail | None:
        """On the running loop, which must be the one that reads the tail."""
        loop = asyncio.get_running_loop()
        try:
            sub = self._plex.subscribe(app_id, LogFilter(source, dyno), loop)
        except TooManyTails:
            return None
        return LogTail(self._plex, sub)
