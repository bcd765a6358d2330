"""One drain's bounded buffer: filled by publishers on any thread, emptied by its sender.

Publishing never waits on a drain: `offer` appends under a lock held for a few
instructions and wakes the sender only when it is idle and waiting for that
many lines. When the buffer is full the oldest line is dropped; the next batch
then starts with Logplex's L10 notice saying how many were lost (logplex's
`logplex_msg_buffer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import secrets
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from slipway.logs.drains.urls import DrainTarget
from slipway.logs.line import LogLine

_FRAME_OVERHEAD = 80  # a frame's bytes besides the message, about: `123 <190>1 <ts> host ...`


def overflow_notice(
    app_id: str, seq: int, now: dt.datetime, dropped: int, since: dt.datetime
) -> LogLine:
    """Logplex's L10 line, to the second as Logplex prints it."""
    when = since.astimezone(dt.UTC).isoformat(timespec="seconds")
    return LogLine(
        app_id,
        seq,
        now,
        "heroku",
        "logplex",
        f"Error L10 (output buffer overflow): {dropped} messages dropped since {when}.",
    )


@dataclass(frozen=True)
class DrainSpec:
    """A drain as the store records it; the dispatcher runs one `Drain` per spec."""

    id: str  # drain uuid
    token: str  # "d.<uuid>"
    url: str


@dataclass(frozen=True)
class DrainStats:
    delivered: int  # log lines the drain accepted (L10 notices not counted)
    dropped: int  # lines lost: buffer overflow, rejected or failed batches
    pending: int  # lines buffered or in flight


@dataclass
class Batch:
    """Lines a sender took from the buffer, settled or requeued once it knows the outcome."""

    lines: list[LogLine]
    notice: LogLine | None
    overflow: int = 0  # what the notice reports, restored if the batch is put back
    overflow_since: dt.datetime | None = None
    frame_id: str = field(default_factory=lambda: secrets.token_hex(16))

    @property
    def all_lines(self) -> list[LogLine]:
        return [self.notice, *self.lines] if self.notice else self.lines


class Drain:
    """One drain's buffer (filled from any thread) and its sender (on the dispatcher loop)."""

    def __init__(
        self,
        app_id: str,
        spec: DrainSpec,
        target: DrainTarget,
        maxsize: int,
        now: Callable[[], dt.datetime],
    ) -> None:
        self.app_id = app_id
        self.spec = spec
        self.target = target
        self.maxsize = maxsize
        self._now = now
        self._lock = threading.Lock()
        self._buffer: deque[LogLine] = deque()
        self._overflow = 0  # dropped since the last L10 notice
        self._overflow_since: dt.datetime | None = None
        self._held = 0  # taken from the buffer by the sender, not yet delivered or dropped
        self.delivered = 0
        self.dropped = 0
        self.stopped = False
        # The sender's wake-up: while it waits, `_wake_at` is the buffer length that
        # wakes it (0 = not waiting), so publishers signal the loop only when needed.
        self._wake_at = 0
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None

    # -- any thread --

    def offer(self, line: LogLine) -> None:
        with self._lock:
            if self.stopped:
                return
            if len(self._buffer) >= self.maxsize:
                self._buffer.popleft()
                if self._overflow == 0:
                    self._overflow_since = self._now()
                self._overflow += 1
                self.dropped += 1
            self._buffer.append(line)
            wake = 0 < self._wake_at <= len(self._buffer)
            if wake:
                self._wake_at = 0
            loop = self._loop
        if wake and loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has just been closed
                loop.call_soon_threadsafe(self._event.set)

    def stats(self) -> DrainStats:
        with self._lock:
            return DrainStats(self.delivered, self.dropped, len(self._buffer) + self._held)

    def stop(self) -> None:
        """Stop accepting lines and discard the buffer (the drain was removed)."""
        with self._lock:
            self.stopped = True
            self._buffer.clear()
            self._held = 0
            self._wake_at = 0

    # -- the dispatcher loop --

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            self._loop = loop

    async def wait(self, count: int, timeout: float | None = None) -> bool:
        """Until the buffer holds `count` lines (or `timeout` passes); False if it already
        did, without waiting."""
        with self._lock:
            if len(self._buffer) >= count:
                return False
            self._event.clear()
            self._wake_at = count
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._wake_at = 0
        return True

    def take(self, limit: int, max_bytes: int | None = None) -> Batch | None:
        """Up to `limit` lines (and about `max_bytes` of frames, estimated from the message
        lengths), led by an L10 notice if lines were dropped since the last batch."""
        with self._lock:
            count = min(limit, len(self._buffer))
            if count == 0 and not self._overflow:
                return None
            if max_bytes is not None:
                size = 0
                for i, line in enumerate(itertools.islice(self._buffer, count)):
                    size += len(line.message) + _FRAME_OVERHEAD
                    if size > max_bytes and i > 0:
                        count = i
                        break
            lines = [self._buffer.popleft() for _ in range(count)]
            self._held += count
            dropped, since = self._overflow, self._overflow_since
            self._overflow, self._overflow_since = 0, None
        notice = None
        if dropped:
            now = self._now()
            seq = lines[0].seq if lines else 0
            notice = overflow_notice(self.app_id, seq, now, dropped, since or now)
        return Batch(lines, notice, dropped, since)

    def settle(self, lines: Sequence[LogLine], *, delivered: bool) -> None:
        with self._lock:
            if self.stopped:
                return
            self._held -= len(lines)
            if delivered:
                self.delivered += len(lines)
            else:
                self.dropped += len(lines)

    def requeue(
        self, lines: Sequence[LogLine], overflow: int = 0, since: dt.datetime | None = None
    ) -> None:
        """Lines taken but not sent go back to the front of the buffer (the oldest are
        dropped if it overflows), and a notice not sent is owed again."""
        with self._lock:
            if self.stopped:
                return
            self._held -= len(lines)
            self._buffer.extendleft(reversed(lines))
            if overflow:
                self._overflow += overflow
                if since and (self._overflow_since is None or since < self._overflow_since):
                    self._overflow_since = since
            while len(self._buffer) > self.maxsize:
                self._buffer.popleft()
                if self._overflow == 0:
                    self._overflow_since = self._now()
                self._overflow += 1
                self.dropped += 1

    def wake(self) -> None:
        """Cut a sender's wait short (on the dispatcher loop): send what is there now."""
        self._event.set()

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self._buffer and not self._held and not self._overflow
