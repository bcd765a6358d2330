"""Log sessions (`heroku logs`) and the log stream a session opens, over the log port.

Creating a session checks access to the app and signs what it shows (lines,
filters, tail) into a token; the stream URL carrying that token is then the
capability, as Heroku's logplex_url is, so opening it needs no account. The
token also names the authorization the session was made with: the stream
checks it when it opens and keeps checking while a tail is open
(`access.Grant`), so revoking the token, disabling the account or removing the
person from the app ends the tail at once. A tail subscribes before history is
read: nothing published in between is lost, and the sequence numbers weed out
what would otherwise show twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from slipway.platform import access, apps, route_rules, views
from slipway.platform.errors import InvalidParams, NotFound, Unavailable
from slipway.platform.ports import LogEntry, LogPort, LogSessionParams, LogTail, Ports
from slipway.platform.tx import Platform, Tx

DEFAULT_LINES = 100
MAX_LINES = 1500
SOURCES = ("app", "heroku")


def _port(ports: Ports) -> LogPort:
    if ports.logs is None:
        raise Unavailable("This server keeps no log streams, so logs cannot be shown.")
    return ports.logs


def create_log_session(
    tx: Tx,
    actor: views.Actor,
    app_ident: str,
    *,
    lines: int | None,
    tail: bool,
    source: str | None,
    dyno: str | None,
) -> views.LogSession:
    """A signed session for the app's stream; `warning` says when history it asks for
    was dropped."""
    lines = DEFAULT_LINES if lines is None else lines
    if not 0 <= lines <= MAX_LINES:
        raise InvalidParams(f"lines must be between 0 and {MAX_LINES}; got {lines}.")
    if source not in (None, *SOURCES):
        raise InvalidParams(f"source {source!r} is not known; use app or heroku.")
    app = apps.get_app(tx, actor, app_ident)
    port = _port(tx.ports)
    token = port.issue_session(app.id, lines, tail, source, dyno, actor.authorization_id)
    warning = None
    evicted = port.evicted(app.id)
    if evicted and lines > port.kept(app.id):
        warning = (
            f"Only the last {port.history_limit} lines are kept; "
            f"{evicted} older lines were dropped."
        )
    return views.LogSession(str(uuid.uuid4()), token, warning, tx.clock.now())


class AccessEnded(Exception):
    """The session's token was revoked or expired, or its person lost access."""


# How long a tail waits at most between two looks at its grant: a revoked token's tail
# ends within this, not at the next line or keep-alive.
RECHECK_SECONDS = 0.5


class LogStream:
    """An open log session: its backlog, then (when tailing) what follows, each line once,
    for as long as the grant it was made with holds."""

    def __init__(
        self,
        port: LogPort,
        session: LogSessionParams,
        tail: LogTail | None,
        after: int | None,
        grant: access.Grant,
    ) -> None:
        self._port = port
        self._session = session
        self._tail = tail
        self._after = after
        self._last_seq = after or 0
        self._grant = grant

    @property
    def tailing(self) -> bool:
        return self._tail is not None

    def backlog(self) -> Sequence[LogEntry]:
        """What followed `after` (the client's last event id) if given, else the session's
        last lines."""
        s = self._session
        if self._after is not None:
            lines = self._port.since(s.app_id, s.source, s.dyno, self._after)
        else:
            lines = self._port.recent(s.app_id, s.source, s.dyno, s.lines)
        if lines:
            self._last_seq = lines[-1].seq
        return lines

    async def next_batch(self, timeout: float) -> Sequence[LogEntry]:
        """Lines published since, less those already sent (Logplex's own notices always
        pass); [] when `timeout` passes first."""
        assert self._tail is not None, "not a tail session"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if not self._grant.still_valid():
                raise AccessEnded
            left = deadline - loop.time()
            if left <= 0:
                return []
            batch = await self._tail.next_batch(min(left, RECHECK_SECONDS))
            if batch:
                break
        if not self._grant.still_valid():
            raise AccessEnded
        last_seq = self._last_seq
        fresh = [line for line in batch if line.seq > last_seq or line.process == "logplex"]
        if fresh:
            self._last_seq = max(last_seq, fresh[-1].seq)
        return fresh

    def close(self) -> None:
        if self._tail is not None:
            self._tail.close()
            self._tail = None


def open_log_stream(platform: Platform, token: str, *, after: int | None = None) -> LogStream:
    """The stream a session token names, tail subscribed; on the event loop that reads it.

    NotFound for a token that is forged, broken or expired; Unavailable (Logplex's L20)
    when the app already has too many live tails."""
    port = _port(platform.ports)
    session = port.verify_session(token)
    if session is None:
        raise NotFound("This log session is not valid or has expired.", resource="log-session")
    grant = access.Grant(platform, session.grant, session.app_id, route_rules.LOG_STREAM)
    if not grant.still_valid():
        raise NotFound(
            "This log session's token was revoked or has expired; log in and try again.",
            resource="log-session",
        )
    tail = None
    if session.tail:
        tail = port.subscribe(session.app_id, session.source, session.dyno)
        if tail is None:
            raise Unavailable(
                "Error L20 (Tail sessions forbidden): this app has too many live tails; "
                "close one and try again."
            )
    return LogStream(port, session, tail, after, grant)
