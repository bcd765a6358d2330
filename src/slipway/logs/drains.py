"""Logplex drains: an app's log stream, also delivered to syslog and HTTP(S) endpoints.

Drain URLs, as on Heroku: `syslog://host:port` (plain TCP), `syslog+tls://host:port`,
`https://[user:pass@]host[:port]/path` and `http://...`.

Publishing never waits on a drain. `DrainDispatcher.deliver` appends the line to a
bounded buffer per drain (O(1), under a lock held for a few instructions) and wakes that
drain's sender only when the sender is idle; the senders run on the dispatcher's own
event loop in a daemon thread. When a buffer is full the oldest line is dropped; the
next delivery then starts with Logplex's L10 notice saying how many were lost.

Syslog drains: RFC 5424 messages with RFC 6587 octet counting over one persistent
TCP (or TLS) connection, reconnected with back-off. HTTP(S) drains: batches POSTed
as `application/logplex-1`, retried on 5xx/429/network errors, dropped on other 4xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import ipaddress
import itertools
import logging
import re
import secrets
import socket
import ssl
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from slipway.logs.line import LogLine, format_timestamp

logger = logging.getLogger(__name__)

SCHEMES = ("syslog", "syslog+tls", "https", "http")
_SUPPORTED = "syslog://host:port, syslog+tls://host:port, https://host/path or http://host/path"

# Batching and retries (Logplex's HTTP drain: up to 100 KB or 1024 messages a POST).
HTTP_MAX_BATCH_BYTES = 100 * 1024
HTTP_MAX_BATCH_MESSAGES = 1024
HTTP_LINGER = 0.1  # lines are sent at most this long after they arrive at an idle drain
HTTP_RETRIES = 2  # extra attempts per batch
HTTP_TIMEOUT = 10.0
SYSLOG_MAX_BATCH_MESSAGES = 1024
CONNECT_TIMEOUT = 5.0
WRITE_TIMEOUT = 30.0  # a syslog peer that stops reading this long is reconnected
BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 30.0
USER_AGENT = "Logplex/v72"
_FRAME_OVERHEAD = 80  # a frame's bytes besides the message, about: `123 <190>1 <ts> host ...`
CONTENT_TYPE = "application/logplex-1"

# Syslog PRI = facility * 8 + severity. Heroku documents that it uses "local0, local3,
# and local7" for its facilities; what its drains actually send is <190> (local7.info)
# for app lines, <158> (local3.info) for `heroku router` and <134> (local0.info) for
# other platform lines (dyno state changes, api). Logplex's own L10 notice is
# local5.warning, <172> (`logplex_syslog_utils:overflow_msg/2`).
PRI_APP = 190
PRI_ROUTER = 158
PRI_HEROKU = 134
PRI_LOGPLEX = 172


class DrainUrlError(ValueError):
    """A drain URL that cannot be used; the message is one sentence for the user."""


@dataclass(frozen=True)
class DrainTarget:
    """A parsed, validated drain URL."""

    url: str = field(repr=False)  # may hold a password
    scheme: str  # one of SCHEMES
    host: str  # without IPv6 brackets
    port: int
    path: str = "/"  # path and query, HTTP(S) only
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def is_syslog(self) -> bool:
        return self.scheme.startswith("syslog")

    @property
    def tls(self) -> bool:
        return self.scheme in ("syslog+tls", "https")

    @property
    def endpoint(self) -> str:
        """The HTTP(S) URL to POST to, without the user info."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"


_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.lower().rstrip(".").split(".")
    return len(ascii_host) <= 253 and all(_HOST_LABEL.match(label) for label in labels)


def parse_drain_url(url: str) -> DrainTarget:
    """Validate a drain URL (pure: no network). Raises DrainUrlError with one sentence."""
    if not url:
        raise DrainUrlError(f"A drain URL is required, such as {_SUPPORTED}.")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise DrainUrlError("The drain URL must not contain spaces or control characters.")
    if "://" not in url:
        raise DrainUrlError(f"{url} is not a valid drain URL; use {_SUPPORTED}.")
    scheme = url.split("://", 1)[0].lower()
    if scheme not in SCHEMES:
        raise DrainUrlError(
            f"The drain scheme {scheme or '(none)'}:// is not supported; use {_SUPPORTED}."
        )
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        raw_port = parts.port
    except ValueError as exc:
        if "port" in str(exc).lower():
            raise DrainUrlError(f"The port in {url} must be a number from 1 to 65535.") from exc
        raise DrainUrlError(f"{url} is not a valid drain URL; use {_SUPPORTED}.") from exc
    if not host:
        raise DrainUrlError(f"The drain URL {url} has no host.")
    if not _valid_host(host):
        raise DrainUrlError(f"{host} in the drain URL is not a valid host name or address.")
    if raw_port is not None and not 1 <= raw_port <= 65535:
        raise DrainUrlError(f"The port in {url} must be a number from 1 to 65535.")
    if parts.netloc.endswith(":") and raw_port is None:
        raise DrainUrlError(f"The port in {url} must be a number from 1 to 65535.")
    if scheme.startswith("syslog"):
        if raw_port is None:
            raise DrainUrlError(
                f"A syslog drain needs a port, such as {scheme}://{parts.netloc}:6514."
            )
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise DrainUrlError(
                f"A syslog drain URL is just {scheme}://host:port, without a path or query."
            )
        if parts.username is not None:
            raise DrainUrlError(
                f"A syslog drain URL is just {scheme}://host:port, without a user name."
            )
        return DrainTarget(url=url, scheme=scheme, host=host, port=raw_port)
    port = raw_port if raw_port is not None else (443 if scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    username = urllib.parse.unquote(parts.username) if parts.username is not None else None
    password = urllib.parse.unquote(parts.password) if parts.password is not None else None
    return DrainTarget(url, scheme, host, port, path, username, password)


def check_reachable(target: DrainTarget, timeout: float = 3.0) -> None:
    """Resolve the host and open (then close) a TCP connection to it; blocking.

    Raises DrainUrlError("<host>:<port> cannot be reached: <reason>; check the host and
    port.") when the name does not resolve or no address accepts a connection."""
    where = f"{target.host}:{target.port}"

    def refuse(reason: str) -> DrainUrlError:
        return DrainUrlError(f"{where} cannot be reached: {reason}; check the host and port.")

    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise refuse("the host name does not resolve") from exc
    reason = "no address to connect to"
    for family, kind, proto, _name, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except TimeoutError:
            reason = f"the connection timed out after {timeout:g} s"
        except OSError as exc:
            reason = (exc.strerror or str(exc) or type(exc).__name__).lower()
        else:
            return
        finally:
            sock.close()
    raise refuse(reason)


# --- framing -------------------------------------------------------------------------


def _pri(line: LogLine) -> int:
    if line.source == "app":
        return PRI_APP
    if line.process == "router":
        return PRI_ROUTER
    if line.process == "logplex":
        return PRI_LOGPLEX
    return PRI_HEROKU


_NOT_PRINTUSASCII = re.compile(r"[^\x21-\x7e]")


@functools.lru_cache(maxsize=4096)
def _field(value: str, limit: int) -> str:
    """An RFC 5424 header field: printable US-ASCII without spaces, at most `limit`, or -."""
    value = _NOT_PRINTUSASCII.sub("_", value)[:limit]
    return value or "-"


def syslog_frame(line: LogLine, token: str) -> bytes:
    """`<len> <PRI>1 <ts> <token> <source> <process> - - <message>` (syslog drains)."""
    msg = (
        f"<{_pri(line)}>1 {format_timestamp(line.timestamp)} {_field(token, 255)} "
        f"{_field(line.source, 48)} {_field(line.process, 128)} - - {line.message}"
    ).encode()
    return b"%d %s" % (len(msg), msg)


def http_frame(line: LogLine) -> bytes:
    """`<len> <PRI>1 <ts> host <source> <process> - <message>` (HTTP(S) drains, no SD)."""
    msg = (
        f"<{_pri(line)}>1 {format_timestamp(line.timestamp)} host "
        f"{_field(line.source, 48)} {_field(line.process, 128)} - {line.message}"
    ).encode()
    return b"%d %s" % (len(msg), msg)


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


# --- the dispatcher --------------------------------------------------------------------


@dataclass(frozen=True)
class DrainSpec:
    id: str  # drain uuid
    token: str  # "d.<uuid>"
    url: str


@dataclass(frozen=True)
class DrainStats:
    delivered: int  # log lines the drain accepted (L10 notices not counted)
    dropped: int  # lines lost: buffer overflow, rejected or failed batches
    pending: int  # lines buffered or in flight


@dataclass
class _Batch:
    lines: list[LogLine]
    notice: LogLine | None
    overflow: int = 0  # what the notice reports, restored if the batch is put back
    overflow_since: dt.datetime | None = None
    frame_id: str = field(default_factory=lambda: secrets.token_hex(16))

    @property
    def all_lines(self) -> list[LogLine]:
        return [self.notice, *self.lines] if self.notice else self.lines


class _Drain:
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

    def take(self, limit: int, max_bytes: int | None = None) -> _Batch | None:
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
        return _Batch(lines, notice, dropped, since)

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

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self._buffer and not self._held and not self._overflow


def _next_delay(delay: float) -> float:
    return BACKOFF_INITIAL if delay == 0 else min(delay * 2, BACKOFF_MAX)


class DrainDispatcher:
    """Every app's drains; `deliver` from any thread, delivery on a private event loop."""

    def __init__(
        self,
        *,
        buffer_size: int = 1024,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        if buffer_size < 1:
            raise ValueError("buffer_size must be at least 1")
        self.buffer_size = buffer_size
        self._ssl_context = ssl_context
        self._now = clock or (lambda: dt.datetime.now(dt.UTC))
        # app id -> its drains; replaced whole (never mutated) so `deliver` needs no lock.
        self._apps: dict[str, tuple[_Drain, ...]] = {}
        self._by_id: dict[str, _Drain] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closing = False

    # -- public API --

    def start(self) -> None:
        """Run the senders on a new event loop in a daemon thread."""
        with self._lock:
            if self._loop is not None:
                return
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            self._thread = threading.Thread(target=run, name="logplex-drains", daemon=True)
            self._thread.start()
            ready.wait()
            self._loop = loop
            drains = list(self._by_id.values())
        for drain in drains:
            self._launch(drain)

    def set_drains(self, app_id: str, drains: Sequence[DrainSpec]) -> None:
        """Replace the app's drain set. Unchanged drains keep their buffer and connection;
        removed ones stop and their buffer is discarded; a URL that does not parse is
        skipped with a warning."""
        started: list[_Drain] = []
        stopped: list[_Drain] = []
        with self._lock:
            if self._closing:
                return
            old = {d.spec.id: d for d in self._apps.get(app_id, ())}
            kept: list[_Drain] = []
            for spec in drains:
                current = old.pop(spec.id, None)
                if current is not None and current.spec == spec:
                    kept.append(current)
                    continue
                if current is not None:
                    stopped.append(current)
                try:
                    target = parse_drain_url(spec.url)
                except DrainUrlError as exc:
                    logger.warning("drain %s of app %s is skipped: %s", spec.id, app_id, exc)
                    continue
                drain = _Drain(app_id, spec, target, self.buffer_size, self._now)
                kept.append(drain)
                started.append(drain)
            stopped.extend(old.values())
            if kept:
                self._apps[app_id] = tuple(kept)
            else:
                self._apps.pop(app_id, None)
            for drain in stopped:
                if self._by_id.get(drain.spec.id) is drain:
                    del self._by_id[drain.spec.id]
            for drain in started:
                self._by_id[drain.spec.id] = drain
            loop = self._loop
        for drain in stopped:
            drain.stop()
            if loop is not None:
                self._call(loop, self._cancel, drain)
        if loop is not None:
            for drain in started:
                self._launch(drain)

    def deliver(self, line: LogLine) -> None:
        """Hand a line to every drain of its app; never blocks on a drain."""
        for drain in self._apps.get(line.app_id, ()):
            drain.offer(line)

    def stats(self, drain_id: str) -> DrainStats:
        """Counts for a drain; zeros for a drain this dispatcher does not (or no longer) run."""
        drain = self._by_id.get(drain_id)
        return drain.stats() if drain else DrainStats(0, 0, 0)

    def close(self, timeout: float = 5.0) -> None:
        """Stop every sender, after giving buffered lines up to `timeout` to go out."""
        with self._lock:
            already, self._closing = self._closing, True
            loop, thread = self._loop, self._thread
            drains = list(self._by_id.values())
        if already or loop is None or thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(drains, timeout), loop)
        with contextlib.suppress(Exception):
            future.result(timeout + 2.0)
        for drain in drains:
            drain.stop()
        self._call(loop, loop.stop)
        thread.join(timeout=2.0)
        if not thread.is_alive():
            loop.close()

    # -- the loop --

    @staticmethod
    def _call(loop: asyncio.AbstractEventLoop, fn: Callable[..., object], *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to stop
            loop.call_soon_threadsafe(fn, *args)

    def _launch(self, drain: _Drain) -> None:
        loop = self._loop
        assert loop is not None
        drain.attach(loop)
        self._call(loop, self._create_task, drain)

    def _create_task(self, drain: _Drain) -> None:
        if drain.stopped or drain.task is not None:
            return
        drain.task = asyncio.get_running_loop().create_task(
            self._supervise(drain), name=f"drain-{drain.spec.id}"
        )

    async def _supervise(self, drain: _Drain) -> None:
        """A sender that fails unexpectedly is logged and started again."""
        run = self._run_syslog if drain.target.is_syslog else self._run_http
        while not drain.stopped:
            try:
                await run(drain)
            except Exception:
                logger.exception("drain %s: sender failed; restarting", drain.spec.id)
                await asyncio.sleep(BACKOFF_MAX / 10)

    @staticmethod
    def _cancel(drain: _Drain) -> None:
        if drain.task is not None:
            drain.task.cancel()

    async def _shutdown(self, drains: list[_Drain], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for drain in drains:  # no more lingering: send what is there now
            drain._event.set()
        while time.monotonic() < deadline and not all(d.idle or d.task is None for d in drains):
            await asyncio.sleep(0.02)
        tasks = [d.task for d in drains if d.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    async def _run_syslog(self, drain: _Drain) -> None:
        """One persistent connection; lines go out as soon as they arrive. Lines are taken
        from the buffer only once connected, so while the drain is down they stay there,
        subject to the cap (and the L10 notice)."""
        target = drain.target
        writer: asyncio.StreamWriter | None = None
        reader: asyncio.StreamReader | None = None
        delay = 0.0

        def failed(exc: BaseException, batch: _Batch | None) -> float:
            if batch is not None:
                drain.requeue(batch.lines, batch.overflow, batch.overflow_since)
            # Warn once per outage; the retries of a drain that stays down are debug.
            logger.log(
                logging.WARNING if delay == 0 else logging.DEBUG,
                "syslog drain %s (%s:%s) failed: %s; retrying",
                drain.spec.id,
                target.host,
                target.port,
                str(exc) or type(exc).__name__,
            )
            return _next_delay(delay)

        try:
            while not drain.stopped:
                await drain.wait(1)
                if drain.stopped:
                    break
                if writer is not None and (writer.is_closing() or (reader and reader.at_eof())):
                    writer.close()
                    writer = None
                if writer is None:
                    try:
                        reader, connected = await asyncio.wait_for(
                            asyncio.open_connection(
                                target.host,
                                target.port,
                                ssl=self._tls_context() if target.tls else None,
                                server_hostname=target.host if target.tls else None,
                            ),
                            CONNECT_TIMEOUT,
                        )
                    except (OSError, TimeoutError) as exc:
                        delay = failed(exc, None)
                        await asyncio.sleep(delay)
                        continue
                    writer = connected
                batch = drain.take(SYSLOG_MAX_BATCH_MESSAGES)
                if batch is None:
                    continue
                try:
                    writer.write(
                        b"".join(syslog_frame(line, drain.spec.token) for line in batch.all_lines)
                    )
                    await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
                except (OSError, TimeoutError) as exc:
                    writer.close()
                    writer = None
                    delay = failed(exc, batch)
                    await asyncio.sleep(delay)
                    continue
                drain.settle(batch.lines, delivered=True)
                delay = 0.0
        finally:
            if writer is not None:
                writer.close()

    async def _run_http(self, drain: _Drain) -> None:
        """Batches POSTed as `application/logplex-1`; at most HTTP_RETRIES retries each."""
        target = drain.target
        auth = (
            httpx.BasicAuth(target.username, target.password or "")
            if target.username is not None
            else None
        )
        client = httpx.AsyncClient(
            verify=self._tls_context() if target.tls else False,
            timeout=httpx.Timeout(HTTP_TIMEOUT, connect=CONNECT_TIMEOUT),
            auth=auth,
            follow_redirects=False,
            trust_env=False,  # drains connect directly, as Logplex does
            headers={
                "User-Agent": USER_AGENT,
                "Content-Type": CONTENT_TYPE,
                "Logplex-Drain-Token": drain.spec.token,
            },
        )
        delay = 0.0  # the drain's back-off: grows over failures, across batches
        try:
            while not drain.stopped:
                # Lines arriving at an idle drain wait up to HTTP_LINGER for company; a
                # backlog goes out batch after batch without waiting.
                if await drain.wait(1) and not self._closing:
                    await drain.wait(min(HTTP_MAX_BATCH_MESSAGES, drain.maxsize), HTTP_LINGER)
                if drain.stopped:
                    break
                batch = drain.take(HTTP_MAX_BATCH_MESSAGES, HTTP_MAX_BATCH_BYTES)
                if batch is None:
                    continue
                body = self._http_body(drain, batch)
                count = len(batch.all_lines)
                outcome = "failed"
                for attempt in range(1 + HTTP_RETRIES):
                    if delay:
                        await asyncio.sleep(delay)
                    outcome = await self._post(client, drain, batch, body, count, attempt)
                    if outcome == "retry":
                        delay = _next_delay(delay)
                        continue
                    delay = 0.0 if outcome == "delivered" else delay
                    break
                if outcome == "retry":
                    logger.warning(
                        "%s drain %s dropped %d lines after %d attempts",
                        target.scheme,
                        drain.spec.id,
                        count,
                        1 + HTTP_RETRIES,
                    )
                drain.settle(batch.lines, delivered=outcome == "delivered")
        finally:
            await client.aclose()

    @staticmethod
    def _http_body(drain: _Drain, batch: _Batch) -> bytes:
        """Frames up to HTTP_MAX_BATCH_BYTES; lines that do not fit go back to the buffer."""
        frames: list[bytes] = []
        size = 0
        lines = batch.all_lines
        for i, line in enumerate(lines):
            frame = http_frame(line)
            if frames and size + len(frame) > HTTP_MAX_BATCH_BYTES:
                leftover = lines[i:]
                drain.requeue(leftover)
                del batch.lines[len(batch.lines) - len(leftover) :]
                break
            frames.append(frame)
            size += len(frame)
        return b"".join(frames)

    @staticmethod
    async def _post(
        client: httpx.AsyncClient,
        drain: _Drain,
        batch: _Batch,
        body: bytes,
        count: int,
        attempt: int,
    ) -> str:
        """One attempt: "delivered", "rejected" (4xx but 429) or "retry"."""
        try:
            response = await client.post(
                drain.target.endpoint,
                content=body,
                headers={"Logplex-Msg-Count": str(count), "Logplex-Frame-Id": batch.frame_id},
            )
        except httpx.HTTPError as exc:
            logger.info(
                "%s drain %s: attempt %d failed: %s",
                drain.target.scheme,
                drain.spec.id,
                attempt + 1,
                str(exc) or type(exc).__name__,
            )
            return "retry"
        status = response.status_code
        if 200 <= status < 300:
            return "delivered"
        if 400 <= status < 500 and status != 429:
            logger.warning(
                "%s drain %s refused %d lines with HTTP %d; dropped",
                drain.target.scheme,
                drain.spec.id,
                count,
                status,
            )
            return "rejected"
        logger.info(
            "%s drain %s: attempt %d got HTTP %d",
            drain.target.scheme,
            drain.spec.id,
            attempt + 1,
            status,
        )
        return "retry"
