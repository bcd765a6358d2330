"""HAProxy's log lines (syslog over a unix datagram socket) -> Heroku router lines.

HAProxy logs each request it forwarded itself in the fields of
`haproxy_config.LOG_FIELDS`; this turns one such line into the `heroku[router]`
line of `logline.py`, with the H-code its termination state means, and puts it in
the router's ReportQueue with the app's activity, exactly as a request served by
the Python router does.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable

from slipway.router import pages
from slipway.router.haproxy_config import LOG_FIELDS, LOG_SEPARATOR
from slipway.router.logline import CODES, format_line
from slipway.router.reports import ReportQueue

log = logging.getLogger("slipway.router")

_COUNT = len(LOG_FIELDS)
# The pipe (haproxy_config.PIPE_SIZE) holds several times this long of lines at full load.
BATCH_WAIT = 0.02
READ_SIZE = 1 << 20

# HAProxy's session state at the end (the first two letters of %tsc) -> H-code.
# (Who ended it: c/C client timeout/abort, s/S server timeout/error; at which step:
# C connect, H headers, D data, R request, Q queue.)
_CODES = {
    "sC": "H19",
    "SC": "H21",
    "sH": "H12",
    "SH": "H13",
    "sQ": "H12",
    "SQ": "H12",
    "sD": "H15",
    "SD": "H18",
    "PH": "H17",
    "CC": "H27",
    "CQ": "H27",
    "CH": "H27",
    "CD": "H27",
    "CR": "H27",
    "cR": "H28",
    "cH": "H28",
    "cD": "H28",
    "PD": "H26",
    "PR": "H26",
}
_SOCK = {"H18": "backend", "H27": "client"}
# Codes whose page HAProxy wrote (not counted in bytes=, as the Python router does).
_PAGE = frozenset({"H11", "H12", "H13", "H17", "H19", "H21", "H28"})
_NO_DYNO = frozenset({"H11"})


def _int(text: str) -> int:
    try:
        return max(0, int(text))
    except ValueError:
        return 0


def _client_bytes(status: int, total: int, method: str, client_head: str, length: str) -> int:
    """What the client received: the status line, the head it got, and the body (its
    Content-Length, else what HAProxy counted past an estimated head)."""
    if not client_head.isdigit():
        return total
    reason = len(pages.reason(status))
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        body = 0
    elif length.isdigit():
        body = int(length)
    else:
        body = max(0, total - int(client_head))
    return len(b"HTTP/1.1 200 \r\n") + reason + int(client_head) + body


def convert(
    raw: str, dyno_of: Callable[[str, str], tuple[str, str] | None]
) -> tuple[str, str] | None:
    """(app id, router line) for one HAProxy log line, or None if it is not an app's."""
    fields = raw.rstrip("\n").split(LOG_SEPARATOR, _COUNT - 1)
    if len(fields) != _COUNT:
        return None
    (backend, server, status, nbytes, tc, _tr, _td, tsc, rid, ip, xff, host, method, code,
     frontend, ta, retries, client_head, length, uri) = fields  # fmt: skip
    hit = dyno_of(backend, server)
    if hit is None:
        return None
    app_id, dyno_name = hit
    state = tsc[:2]
    if code == "-":
        code = _CODES.get(state, "")
    cause = None
    status_n = _int(status)
    if code == "H26":
        cause = "bad chunk" if state == "PD" else "bad request"
        status_n = 400
    elif code:
        status_n = CODES[code].status
    connect = _int(tc)
    active = _int(ta)
    if code == "H19":
        connect = active // (_int(retries) + 1)  # the last attempt's time
    service = max(0, active - connect)
    dyno: str | None = dyno_name
    if code in _NO_DYNO:
        dyno = None
    out_bytes = (
        0 if code in _PAGE else _client_bytes(status_n, _int(nbytes), method, client_head, length)
    )
    fwd = ip if xff in ("-", "") else f"{xff}, {ip}"
    line = format_line(
        method,
        uri,
        host if host != "-" else "",
        rid,
        fwd,
        dyno,
        connect,
        service,
        status_n,
        out_bytes,
        frontend,
        code=code or None,
        sock=_SOCK.get(code),
        cause=cause,
    )
    return app_id, line


class LogCollector:
    """Reads HAProxy's log lines from a pipe into the report queue. Lines are kept raw
    and turned into router lines when a report is taken (`ReportQueue.take`), in
    batches, off the request path.

    Each HAProxy thread writes its request's line into the pipe itself (`log fd@N`):
    no thread wakes another for it, as a ring's reader had to be (on two cores that
    cross-thread wake per request was the p99 on one connection, 0.5 -> 3.5 ms). The
    pipe outlives reloads (the master hands it to each new worker), and between reads
    the lines wait in it: a busy router is read in large batches a few times a second
    instead of waking this process for every request; a quiet one sleeps until a line
    comes."""

    def __init__(
        self,
        reports: ReportQueue,
        dyno_of: Callable[[str, str], tuple[str, str] | None],
        fd: int,
    ) -> None:
        self.reports = reports
        self.dyno_of = dyno_of
        self.fd = fd
        reports.converter = self.convert

    def convert(self, raw: str) -> tuple[str, str] | None:
        try:
            hit = convert(raw, self.dyno_of)
        except Exception:
            log.exception("cannot read a data plane log line")
            return None
        if hit is not None:
            self.reports.activity[hit[0]] = time.time()
        return hit

    async def _readable(self) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(self.fd, wake)
        try:
            await ready
        finally:
            loop.remove_reader(self.fd)

    async def run(self) -> None:
        """Read until the pipe's last writer (HAProxy) is gone, or until cancelled;
        then close the read end."""
        os.set_blocking(self.fd, False)
        # One buffer for every read: a fresh megabyte per read would be an mmap and a
        # munmap each time.
        buffer = bytearray(READ_SIZE)
        view = memoryview(buffer)
        add = self.reports.add_raw_lines
        rest = b""
        try:
            while True:
                await self._readable()
                while True:  # what is in the pipe now
                    try:
                        size = os.readv(self.fd, [buffer])
                    except BlockingIOError:
                        break
                    if not size:
                        return  # HAProxy has exited
                    # At the normal priority, unlike formatting: a starved reader would
                    # let the pipe fill, and HAProxy drops what does not fit.
                    lines = (rest + view[:size].tobytes()).split(b"\n")
                    rest = lines.pop()
                    add([line.decode("latin-1") for line in lines if line])
                    if size < READ_SIZE:
                        break
                await asyncio.sleep(BATCH_WAIT)  # let the next batch gather in the pipe
        finally:
            os.close(self.fd)
