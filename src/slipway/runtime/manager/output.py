"""A dyno's output: read from its pipe or PTY, cut into lines, capped per dyno (L12).

Each line goes to the app's log stream as `app[web.1]`; a release-phase dyno's
lines also go to the push that waits for it; an attached one-off's bytes go
to its client untouched. A dyno writing more than `lines_per_second` loses its
own lines (counted, and reported once it calms down), nobody else's.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from slipway.runtime.manager.records import RunningDyno
from slipway.runtime.manager.state import LoopState
from slipway.runtime.manager.waiters import ReleaseWaiters

MAX_LINE = 10000


@dataclass
class LineBucket:
    """Token bucket for one dyno's output: a flood costs its own lines, nobody else's."""

    rate: float
    burst: float
    tokens: float
    stamp: float
    dropped: int = 0
    dropped_since: dt.datetime | None = None

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class OutputCapture:
    def __init__(self, state: LoopState, waiters: ReleaseWaiters) -> None:
        self.state = state
        self.waiters = waiters

    def new_bucket(self) -> LineBucket:
        options = self.state.options
        return LineBucket(
            options.lines_per_second, options.line_burst, options.line_burst, self.state.now()
        )

    def on_readable(self, dyno: RunningDyno) -> None:
        """The loop's reader callback for the dyno's output descriptor."""
        proc = dyno.proc
        if proc is None:
            return
        try:
            data = os.read(proc.output_fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # EIO: a PTY whose last holder is gone
        if not data:
            self.state.running_loop.remove_reader(proc.output_fd)
            return
        self._handle(dyno, data)

    def drain(self, dyno: RunningDyno) -> None:
        """What is still buffered once the dyno has exited, and its unfinished last line."""
        proc = dyno.proc
        if proc is None:
            return
        for _ in range(64):
            try:
                data = os.read(proc.output_fd, 65536)
            except OSError:
                break
            if not data:
                break
            self._handle(dyno, data)
        if dyno.partial and dyno.on_output is None:
            self._emit_line(dyno, dyno.partial)
            dyno.partial = b""

    def _handle(self, dyno: RunningDyno, data: bytes) -> None:
        if dyno.on_output is not None:
            dyno.on_output(data)
            return
        buffer = dyno.partial + data
        *lines, rest = buffer.split(b"\n")
        for line in lines:
            self._emit_line(dyno, line)
        while len(rest) > MAX_LINE:
            self._emit_line(dyno, rest[:MAX_LINE])
            rest = rest[MAX_LINE:]
        dyno.partial = rest

    def _emit_line(self, dyno: RunningDyno, raw: bytes) -> None:
        bucket = dyno.bucket
        if bucket is not None and not bucket.take(self.state.now()):
            if bucket.dropped == 0:
                bucket.dropped_since = self.state.wall()
            bucket.dropped += 1
            return
        if bucket is not None and bucket.dropped:
            self._report_dropped(dyno, bucket)
        text = raw.decode("utf-8", "replace").rstrip("\r")
        self.state.hooks.publish(dyno.app_id, "app", dyno.name, text)
        if dyno.phase_version is not None:
            self.waiters.tell(dyno.app_id, dyno.phase_version, text)
            self.state.hooks.release_phase_line(dyno.app_id, dyno.phase_version, text)

    def _report_dropped(self, dyno: RunningDyno, bucket: LineBucket) -> None:
        since = bucket.dropped_since.isoformat() if bucket.dropped_since else ""
        self.state.hooks.publish(
            dyno.app_id,
            "heroku",
            "logplex",
            f"Error L12 (Local buffer overflow) -> {bucket.dropped} messages from "
            f"{dyno.name} dropped since {since}: it writes more than "
            f"{self.state.options.lines_per_second} lines a second.",
        )
        bucket.dropped = 0
