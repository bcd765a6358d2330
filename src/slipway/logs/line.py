"""A log line, and how Logplex prints it (pure)."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

MAX_LINE_BYTES = 10_000
SOURCES = ("app", "heroku")


class LogLine(NamedTuple):
    """One line of an app's stream. `seq` orders lines within one app (also the SSE id).

    A NamedTuple rather than a frozen dataclass: publishing makes tens of
    thousands a second, and tuples are several times cheaper to create.
    """

    app_id: str
    seq: int
    timestamp: dt.datetime
    source: str  # "app" or "heroku"
    process: str  # "web.1", "router", "api", "release.4821", "logplex"
    message: str

    def format(self) -> str:
        """`2025-09-16T02:55:28.909614+00:00 heroku[web.1]: State changed from starting to up`."""
        return f"{format_timestamp(self.timestamp)} {self.source}[{self.process}]: {self.message}"

    @property
    def process_type(self) -> str:
        """`web.1` -> `web`; `router` -> `router`."""
        return self.process.split(".", 1)[0]


def format_timestamp(ts: dt.datetime) -> str:
    return ts.astimezone(dt.UTC).isoformat(timespec="microseconds")


_CONTROL = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F) if code != 0x09}


def sanitize(message: str) -> str:
    """Keep a message on one line whatever it holds: control characters other than tab
    become `\\xNN` escapes, so no framing (SSE, syslog, plain text) can break."""
    return message.translate(_CONTROL)


def split_message(message: str, limit: int = MAX_LINE_BYTES) -> list[str]:
    """Split a message into pieces of at most `limit` UTF-8 bytes, never inside a character."""
    if len(message) * 4 <= limit:  # cannot be over the limit: skip encoding
        return [message]
    data = message.encode("utf-8")
    if len(data) <= limit:
        return [message]
    pieces = []
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        # Step back over UTF-8 continuation bytes so each piece decodes cleanly.
        while end < len(data) and end > start and (data[end] & 0xC0) == 0x80:
            end -= 1
        pieces.append(data[start:end].decode("utf-8"))
        start = end
    return pieces
