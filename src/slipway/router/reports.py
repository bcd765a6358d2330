"""ReportQueue: router lines and per-app activity on their way out of the router.

Filled on the request path; emptied by the control link (`control.py`), or without
one by the server's stdout printer. Bounded: while the control plane is away for
long, the oldest lines go, and are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable

from slipway.router.logline import LineFields, line_from

MAX_LINES_PER_REPORT = 5000
# Lines are formatted this many at a time between other work on the loop, so a busy
# second's worth of lines never stalls requests for milliseconds at once.
FORMAT_SLICE = 256


class ReportQueue:
    """Router lines and per-app activity waiting to be reported; bounded.

    Requests add the fields of their line; `take` formats them, a batch at a time,
    so the request path never builds a string it does not need yet.
    """

    __slots__ = (
        "_lines",
        "_maxlen",
        "_raw",
        "activity",
        "background",
        "converter",
        "dropped",
        "ready",
    )

    def __init__(self, maxlen: int) -> None:
        self._maxlen = maxlen
        self._lines: deque[tuple[str, LineFields | str]] = deque()
        # App id -> time of its last request; written directly on the request path.
        self.activity: dict[str, float] = {}
        self.dropped = 0  # lines lost to a full buffer since the router started
        # Set when a line arrives in an empty queue: the report loop waits on it while
        # the router is quiet, so an idle router does not wake up, and the first line
        # after a quiet spell is reported within one interval.
        self.ready = asyncio.Event()
        # The data plane's lines, raw until a report is taken: `converter` makes each
        # (app id, router line), or None for one that is no app's.
        self._raw: deque[str] = deque()
        self.converter: Callable[[str], tuple[str, str] | None] | None = None
        # What formatting runs under (priority.BackgroundPriority with the HAProxy data
        # plane): unless the backlog is half the buffer, when it must catch up.
        self.background: Callable[[], contextlib.AbstractContextManager[None]] = (
            contextlib.nullcontext
        )

    def add_raw(self, line: str) -> None:
        raw = self._raw
        if not raw:
            self.ready.set()
        if len(raw) >= self._maxlen:
            raw.popleft()
            self.dropped += 1
        raw.append(line)

    def add_raw_lines(self, lines: list[str]) -> None:
        raw = self._raw
        if lines and not raw:
            self.ready.set()
        raw.extend(lines)
        over = len(raw) - self._maxlen
        if over > 0:
            for _ in range(over):
                raw.popleft()
            self.dropped += over

    def _convert_raw(self, limit: int) -> None:
        raw, convert = self._raw, self.converter
        if not raw or convert is None:
            return
        for _ in range(min(len(raw), limit)):
            hit = convert(raw.popleft())
            if hit is not None:
                self.add_line(*hit)

    def add_line(self, app_id: str, line: LineFields | str) -> None:
        lines = self._lines
        if not lines:
            self.ready.set()
        if len(lines) >= self._maxlen:
            lines.popleft()
            self.dropped += 1
        lines.append((app_id, line))

    def __bool__(self) -> bool:
        return bool(self._lines or self._raw or self.activity)

    def __len__(self) -> int:
        return len(self._lines) + len(self._raw)

    def take(self, limit: int = MAX_LINES_PER_REPORT) -> list[tuple[str, str]]:
        """Up to `limit` of the oldest lines, formatted."""
        urgent = len(self._raw) + len(self._lines) > self._maxlen // 2
        with contextlib.nullcontext() if urgent else self.background():
            self._convert_raw(limit)
            lines = self._lines
            batch = []
            for _ in range(min(len(lines), limit)):
                app_id, line = lines.popleft()
                batch.append((app_id, line if isinstance(line, str) else line_from(line)))
        return batch

    async def take_batch(self) -> tuple[list[tuple[str, str]], dict[str, float]]:
        """A report's worth of lines and the activity so far, formatted in slices."""
        batch = self.take(FORMAT_SLICE)
        while (self._lines or self._raw) and len(batch) < MAX_LINES_PER_REPORT:
            await asyncio.sleep(0)
            batch += self.take(min(FORMAT_SLICE, MAX_LINES_PER_REPORT - len(batch)))
        activity, self.activity = self.activity, {}
        return batch, activity

    def put_back(self, batch: list[tuple[str, str]], activity: dict[str, float]) -> None:
        """Return an unsent batch to the front; newer lines win if there is no room."""
        room = self._maxlen - len(self._lines)
        kept: list[tuple[str, LineFields | str]] = list(batch)
        if room < len(kept):
            self.dropped += len(kept) - max(room, 0)
            kept = kept[len(kept) - max(room, 0) :]
        self._lines.extendleft(reversed(kept))
        for app_id, when in activity.items():
            if when > self.activity.get(app_id, 0.0):
                self.activity[app_id] = when
