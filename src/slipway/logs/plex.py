"""The Logplex: one way in (`publish`), history, live tails with bounded buffers, drains.

Publishing is cheap and never blocks on a reader: each tail has a bounded
buffer; when a reader falls behind the oldest lines are dropped and it is told
with an L11 line. Drains get their own bounded buffers (`drains/buffer.py`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from slipway.logs.history import LogHistory
from slipway.logs.line import LogLine, format_timestamp, sanitize, split_message

TAIL_BUFFER = 5_000
# Memory stays bounded whatever clients do: at most this many live tails per app,
# each holding at most TAIL_BUFFER lines.
MAX_TAILS_PER_APP = 64
FLUSH_INTERVAL = 0.2


class TooManyTails(Exception):
    pass


class DrainSink(Protocol):
    def deliver(self, line: LogLine) -> None: ...


@dataclass(frozen=True)
class LogFilter:
    source: str | None = None
    dyno: str | None = None

    def matches(self, line: LogLine) -> bool:
        if self.source and line.source != self.source:
            return False
        if self.dyno:
            # `web.1` is one dyno; `web` is every dyno of that type (Logplex's `ps`).
            if "." in self.dyno:
                return line.process == self.dyno
            return line.process_type == self.dyno
        return True


class TailSubscription:
    """A live reader. Filled by publishers (any thread), drained by one asyncio reader."""

    def __init__(
        self, app_id: str, log_filter: LogFilter, loop: asyncio.AbstractEventLoop, maxsize: int
    ) -> None:
        self.app_id = app_id
        self.filter = log_filter
        self.maxsize = maxsize
        self._loop = loop
        self._buffer: deque[LogLine] = deque()
        self._dropped = 0
        self._dropped_since: dt.datetime | None = None
        self._event = asyncio.Event()
        self._waiting = False
        self._lock = threading.Lock()

    def offer(self, line: LogLine) -> None:
        if not self.filter.matches(line):
            return
        with self._lock:
            if len(self._buffer) >= self.maxsize:
                dropped = self._buffer.popleft()
                if self._dropped == 0:
                    self._dropped_since = dropped.timestamp
                self._dropped += 1
            self._buffer.append(line)
            wake = self._waiting
            self._waiting = False
        if wake:
            self._loop.call_soon_threadsafe(self._event.set)

    async def next_batch(self, timeout: float) -> list[LogLine]:
        """Whatever arrived (waiting up to `timeout`), with an L11 notice first if lines
        were dropped; [] on timeout, so the caller can send a keep-alive."""
        with self._lock:
            if not self._buffer:
                self._event.clear()
                self._waiting = True
        if self._waiting:
            try:
                await asyncio.wait_for(self._event.wait(), timeout)
            except TimeoutError:
                with self._lock:
                    self._waiting = False
        with self._lock:
            batch = list(self._buffer)
            self._buffer.clear()
            dropped, since = self._dropped, self._dropped_since
            self._dropped, self._dropped_since = 0, None
        if dropped and batch:
            notice = LogLine(
                self.app_id,
                batch[0].seq,
                batch[0].timestamp,
                "heroku",
                "logplex",
                f"Error L11 (Tail buffer overflow) -> This tail session dropped {dropped} "
                f"messages since {format_timestamp(since or batch[0].timestamp)}.",
            )
            batch.insert(0, notice)
        return batch


class Logplex:
    def __init__(
        self,
        history: LogHistory,
        drains: DrainSink | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.history = history
        self.drains = drains
        self._now = clock or (lambda: dt.datetime.now(dt.UTC))
        self._tails: dict[str, set[TailSubscription]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None

    def start(self) -> None:
        self._flusher = threading.Thread(target=self._flush_loop, name="logplex-flush", daemon=True)
        self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL):
            self.history.flush()

    def close(self) -> None:
        self._stop.set()
        if self._flusher:
            self._flusher.join(timeout=5)
        self.history.flush()

    def publish(
        self, app_id: str, source: str, process: str, message: str, *, durable: bool = False
    ) -> None:
        """The one way in, from any thread: `app[web.1]: ...`, `heroku[router]: ...`.

        `durable` lines are on disk when this returns (not only at the next flush): the
        platform's own lines of a change the API is about to acknowledge, which a
        kill -9 right after the reply must not lose."""
        now = self._now()
        pieces = split_message(sanitize(message))
        with self._lock:
            subscribed = self._tails.get(app_id)
            tails = list(subscribed) if subscribed else []
            lines = self.history.add(app_id, now, source, process, pieces)
        if durable:
            self.history.flush()
        drains = self.drains
        for line in lines:
            for tail in tails:
                tail.offer(line)
            if drains is not None:
                drains.deliver(line)

    def recent(self, app_id: str, log_filter: LogFilter, lines: int) -> list[LogLine]:
        matching = [line for line in self.history.recent(app_id) if log_filter.matches(line)]
        return matching[-lines:] if lines > 0 else []

    def since(self, app_id: str, log_filter: LogFilter, seq: int) -> list[LogLine]:
        return [
            line
            for line in self.history.recent(app_id)
            if line.seq > seq and log_filter.matches(line)
        ]

    def subscribe(
        self,
        app_id: str,
        log_filter: LogFilter,
        loop: asyncio.AbstractEventLoop,
        maxsize: int = TAIL_BUFFER,
    ) -> TailSubscription:
        sub = TailSubscription(app_id, log_filter, loop, maxsize)
        with self._lock:
            tails = self._tails.setdefault(app_id, set())
            if len(tails) >= MAX_TAILS_PER_APP:
                raise TooManyTails(app_id)
            tails.add(sub)
        return sub

    def unsubscribe(self, sub: TailSubscription) -> None:
        with self._lock:
            subs = self._tails.get(sub.app_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._tails[sub.app_id]

    def forget(self, app_id: str) -> None:
        with self._lock:
            self._tails.pop(app_id, None)
        self.history.drop(app_id)
