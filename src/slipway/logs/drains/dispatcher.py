"""The drain dispatcher: every app's drains, each with its buffer and its sender.

`deliver` hands a line to the buffer of each of its app's drains (`buffer.py`)
from any thread and never waits; the senders, one per drain (`syslog.py`,
`https.py`), run on the dispatcher's own event loop in a daemon thread under a
supervisor that restarts one that fails, as logplex keeps one process per drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import ssl
import threading
import time
from collections.abc import Callable, Sequence

from slipway.logs.drains.backoff import BACKOFF_MAX
from slipway.logs.drains.buffer import Drain, DrainSpec, DrainStats
from slipway.logs.drains.https import run_http
from slipway.logs.drains.syslog import run_syslog
from slipway.logs.drains.urls import DrainUrlError, parse_drain_url
from slipway.logs.line import LogLine

logger = logging.getLogger(__name__)


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
        self._apps: dict[str, tuple[Drain, ...]] = {}
        self._by_id: dict[str, Drain] = {}
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
        started: list[Drain] = []
        stopped: list[Drain] = []
        with self._lock:
            if self._closing:
                return
            old = {d.spec.id: d for d in self._apps.get(app_id, ())}
            kept: list[Drain] = []
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
                drain = Drain(app_id, spec, target, self.buffer_size, self._now)
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

    def _launch(self, drain: Drain) -> None:
        loop = self._loop
        assert loop is not None
        drain.attach(loop)
        self._call(loop, self._create_task, drain)

    def _create_task(self, drain: Drain) -> None:
        if drain.stopped or drain.task is not None:
            return
        drain.task = asyncio.get_running_loop().create_task(
            self._supervise(drain), name=f"drain-{drain.spec.id}"
        )

    async def _supervise(self, drain: Drain) -> None:
        """A sender that fails unexpectedly is logged and started again."""
        while not drain.stopped:
            try:
                if drain.target.is_syslog:
                    await run_syslog(drain, self._tls_context)
                else:
                    await run_http(drain, self._tls_context, lambda: self._closing)
            except Exception:
                logger.exception("drain %s: sender failed; restarting", drain.spec.id)
                await asyncio.sleep(BACKOFF_MAX / 10)

    @staticmethod
    def _cancel(drain: Drain) -> None:
        if drain.task is not None:
            drain.task.cancel()

    async def _shutdown(self, drains: list[Drain], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for drain in drains:  # no more lingering: send what is there now
            drain.wake()
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
