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
import time
from collections.abc import Callable

from slipway.router import pages
from slipway.router.haproxy_config import LOG_FIELDS, LOG_SEPARATOR
from slipway.router.logline import CODES, format_line
from slipway.router.reports import ReportQueue

log = logging.getLogger("slipway.router")

_COUNT = len(LOG_FIELDS)

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
    """Streams HAProxy's ring of log lines (`show events routerlines -w -n`) into the
    report queue. Lines are kept raw and turned into router lines when a report is
    taken (`ReportQueue.take`), in batches, off the request path."""

    def __init__(
        self,
        reports: ReportQueue,
        dyno_of: Callable[[str, str], tuple[str, str] | None],
        socket_path: str,
        worker_pid: Callable[[], int | None] = lambda: None,
    ) -> None:
        self.reports = reports
        self.dyno_of = dyno_of
        self.socket_path = socket_path
        # The current worker: after a reload the old one may still accept on the
        # socket it handed over, and its ring is not the one that fills.
        self.worker_pid = worker_pid
        self._writer: asyncio.StreamWriter | None = None
        self._followers: set[asyncio.Task[None]] = set()
        reports.converter = self.convert

    def follow_new_worker(self) -> None:
        """After a reload: follow the new worker's ring too, and let go of the old one's
        after a moment (its last requests' lines), so it can exit once they finish."""
        old = self._writer
        self._writer = None
        loop = asyncio.get_running_loop()
        if old is not None:
            loop.call_later(2.0, old.close)
        task = loop.create_task(self._follow())
        self._followers.add(task)
        task.add_done_callback(self._followers.discard)

    def convert(self, raw: str) -> tuple[str, str] | None:
        try:
            hit = convert(raw, self.dyno_of)
        except Exception:
            log.exception("cannot read a data plane log line")
            return None
        if hit is not None:
            self.reports.activity[hit[0]] = time.time()
        return hit

    async def run(self) -> None:
        """Follow the current worker's ring until cancelled."""
        self._followers.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await self._follow()
            await asyncio.Event().wait()
        finally:
            for task in list(self._followers):
                if task is not asyncio.current_task():
                    task.cancel()
            if self._writer is not None:
                self._writer.close()

    async def _follow(self) -> None:
        """Stream one worker's ring (the current one when this starts) to its end."""
        expected = self.worker_pid()
        while True:
            try:
                reader, writer = await asyncio.open_unix_connection(self.socket_path, limit=1 << 20)
            except OSError:
                await asyncio.sleep(0.1)  # HAProxy is (re)starting
                continue
            try:
                writer.write(b"show info; show events routerlines -w -n\n")
                await writer.drain()
                pid = None
                while (line := await reader.readline()) not in (b"\n", b""):
                    if line.startswith(b"Pid: "):
                        pid = int(line[5:])
                if expected is not None and pid != expected:
                    writer.close()
                    await asyncio.sleep(0.02)  # an old worker answered: again
                    continue
                if self._writer is None:
                    self._writer = writer
                # Whole reads, split into lines: one wakeup carries many lines.
                add = self.reports.add_raw_lines
                rest = b""
                while data := await reader.read(1 << 16):
                    lines = (rest + data).split(b"\n")
                    rest = lines.pop()
                    add([line.decode("latin-1") for line in lines if line])
            except (OSError, ValueError) as exc:
                log.warning("data plane log stream: %s", exc)
            finally:
                if self._writer is writer:
                    self._writer = None
                writer.close()
            if expected is not None and self.worker_pid() != expected:
                return  # that worker is gone; a follower of the new one runs
            await asyncio.sleep(0.05)
