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
import socket
import time
from collections.abc import Callable

from slipway.router import pages
from slipway.router.haproxy_config import LOG_FIELDS, LOG_SEPARATOR
from slipway.router.logline import CODES, format_line
from slipway.router.reports import ReportQueue

log = logging.getLogger("slipway.router")

_COUNT = len(LOG_FIELDS)
# The ring (haproxy_config.RING_SIZE) holds far more than this long of lines at full load.
BATCH_WAIT = 0.05
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
    """Streams HAProxy's ring of log lines (`show events routerlines -w -n`) into the
    report queue. Lines are kept raw and turned into router lines when a report is
    taken (`ReportQueue.take`), in batches, off the request path.

    The stream is read from a plain socket (not an asyncio stream, whose transport
    reads each line the moment it arrives): between reads the lines wait in the
    socket and in the ring, so a busy router is read in large batches a few times a
    second instead of waking this process, and taking a core from HAProxy, for every
    request. A quiet router sleeps in its read."""

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
        self._current: asyncio.Task[None] | None = None
        self._followers: set[asyncio.Task[None]] = set()
        reports.converter = self.convert

    def _start_follower(self) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._follow())
        self._followers.add(task)
        task.add_done_callback(self._followers.discard)
        self._current = task
        return task

    def follow_new_worker(self) -> None:
        """After a reload: follow the new worker's ring too, and let go of the old one's
        after a moment (its last requests' lines), so it can exit once they finish."""
        old = self._current
        if old is not None:
            asyncio.get_running_loop().call_later(2.0, old.cancel)
        self._start_follower()

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
        self._start_follower()
        try:
            await asyncio.Event().wait()
        finally:
            for task in list(self._followers):
                task.cancel()

    async def _connect(self) -> tuple[socket.socket, bytes] | None:
        """A stream of the current worker's ring, and the first bytes of it; None if an
        old worker answered."""
        loop = asyncio.get_running_loop()
        expected = self.worker_pid()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, self.socket_path)
            await loop.sock_sendall(sock, b"show info; show events routerlines -w -n\n")
            head = b""
            while b"\n\n" not in head:  # `show info` ends with an empty line
                data = await loop.sock_recv(sock, 4096)
                if not data:
                    raise OSError("the data plane closed its log stream")
                head += data
        except BaseException:
            sock.close()
            raise
        info, rest = head.split(b"\n\n", 1)
        pid = next((int(x[5:]) for x in info.split(b"\n") if x.startswith(b"Pid: ")), None)
        if expected is not None and pid != expected:
            sock.close()
            return None
        return sock, rest

    async def _follow(self) -> None:
        """Stream one worker's ring (the current one when this starts) to its end."""
        loop = asyncio.get_running_loop()
        expected = self.worker_pid()
        add = self.reports.add_raw_lines
        while True:
            try:
                opened = await self._connect()
            except OSError:
                await asyncio.sleep(0.1)  # HAProxy is (re)starting
                continue
            if opened is None:
                await asyncio.sleep(0.02)  # an old worker answered: again
                continue
            sock, data = opened
            # One buffer for every read: a fresh megabyte per read was an mmap and a
            # munmap each time, whose page-table work showed in HAProxy's p99.
            buffer = bytearray(READ_SIZE)
            view = memoryview(buffer)
            try:
                rest = b""
                while True:
                    if data:
                        with self.reports.background():
                            lines = (rest + data).split(b"\n")
                            rest = lines.pop()
                            add([line.decode("latin-1") for line in lines if line])
                        await asyncio.sleep(BATCH_WAIT)  # let the next batch gather
                    size = await loop.sock_recv_into(sock, buffer)
                    if not size:
                        break
                    data = bytes(view[:size])
            except OSError as exc:
                log.warning("data plane log stream: %s", exc)
            finally:
                sock.close()
            if expected is not None and self.worker_pid() != expected:
                return  # that worker is gone; a follower of the new one runs
            await asyncio.sleep(0.05)
