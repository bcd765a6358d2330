"""The link to the control plane: route tables in; router lines, activity and wake calls out.

    GET  {control_url}/internal/router/routes   newline-delimited JSON tables, streamed;
                                                 blank lines are keepalives
    POST {control_url}/internal/router/report   {"lines": [{"app_id", "line"}],
                                                 "activity": {app_id: unix time}}
    POST {control_url}/internal/router/wake     {"app_id": ...}

All three carry `Authorization: Bearer <token>`. None of this is on the request
path: requests only append to the ReportQueue (`reports.py`). While the control
plane is away the router keeps the last table it had, reconnects with back-off,
and buffers a bounded number of lines (dropping the oldest, and counting them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable

import httpx

from slipway.router.config import RouterConfig
from slipway.router.errors import ControlError, RouterError
from slipway.router.reports import ReportQueue
from slipway.router.table import RouteTable

log = logging.getLogger("slipway.router")

ROUTES_PATH = "/internal/router/routes"
REPORT_PATH = "/internal/router/report"
WAKE_PATH = "/internal/router/wake"


class ControlLink:
    """Runs the table stream and the reporter; `wake` is safe to call per request."""

    def __init__(
        self,
        config: RouterConfig,
        reports: ReportQueue,
        on_table: Callable[[RouteTable], None],
        on_status: Callable[[bool], None] | None = None,
    ) -> None:
        assert config.control_url is not None
        assert config.token is not None
        self._config = config
        self._reports = reports
        self._on_table = on_table
        self._base = config.control_url.rstrip("/")
        self._client = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {config.token}"},
            timeout=httpx.Timeout(5.0, read=config.control_read_timeout),
            trust_env=False,  # the control plane is local: never through an HTTP proxy
        )
        self._on_status = on_status or (lambda _up: None)
        self._last_wake: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.connected = False

    async def run(self) -> None:
        """Stream tables and send reports until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._stream_tables())
            group.create_task(self._report_loop())

    # -- tables -------------------------------------------------------------------------

    async def _stream_tables(self) -> None:
        config = self._config
        delay = config.reconnect_min
        while True:
            try:
                async for table in self._tables():
                    delay = config.reconnect_min  # a table arrived: the link works
                    self._on_table(table)
            except (httpx.HTTPError, RouterError, OSError) as exc:
                if self.connected:
                    log.warning("control plane stream lost (%s); keeping the last table", exc)
                self._set_connected(False)
            except Exception:
                log.exception("control plane stream failed; keeping the last table")
                self._set_connected(False)
            else:
                if self.connected:
                    log.warning("control plane closed the stream; keeping the last table")
                self._set_connected(False)
            await asyncio.sleep(delay)
            delay = min(delay * 2, config.reconnect_max)

    def _set_connected(self, up: bool) -> None:
        self.connected = up
        self._on_status(up)

    async def _tables(self) -> AsyncIterator[RouteTable]:
        async with self._client.stream("GET", self._base + ROUTES_PATH) as response:
            if response.status_code != 200:
                raise ControlError(f"GET {ROUTES_PATH} answered {response.status_code}")
            if not self.connected:
                log.info("control plane stream connected")
            self._set_connected(True)
            async for line in response.aiter_lines():
                if not line.strip():
                    continue  # keepalive
                try:
                    table = RouteTable.from_json(json.loads(line))
                except (ValueError, RouterError) as exc:
                    log.error("ignoring a route table that does not parse: %s", exc)
                    continue
                yield table

    # -- reports ------------------------------------------------------------------------

    async def _report_loop(self) -> None:
        reports = self._reports
        interval = self._config.report_interval
        failing = False
        dropped = 0
        while True:
            if not reports:
                # Quiet: sleep until a line arrives (an idle router costs nothing).
                reports.ready.clear()
                await reports.ready.wait()
            # Then gather a report's worth for one interval, and send it.
            await asyncio.sleep(interval)
            try:
                ok = await self.flush()
            except Exception:
                log.exception("router report failed")
                ok = False
            if ok and failing:
                log.info("router reports delivered again")
            elif not ok and not failing:
                log.warning("router reports failing; buffering up to %d lines", len(reports))
            failing = not ok
            if reports.dropped != dropped:
                log.warning("%d router lines dropped (buffer full)", reports.dropped - dropped)
                dropped = reports.dropped

    async def flush(self) -> bool:
        """Send what is queued once; on failure put it back. Returns success."""
        batch, activity = await self._reports.take_batch()
        body = {
            "lines": [{"app_id": app_id, "line": line} for app_id, line in batch],
            "activity": activity,
        }
        try:
            response = await self._client.post(self._base + REPORT_PATH, json=body)
            if response.status_code >= 300:
                raise ControlError(f"POST {REPORT_PATH} answered {response.status_code}")
        except (httpx.HTTPError, ControlError, OSError):
            self._reports.put_back(batch, activity)
            return False
        return True

    # -- wake ---------------------------------------------------------------------------

    def wake(self, app_id: str) -> None:
        """Ask the control plane to start a sleeping app; at most once per interval."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now - self._last_wake.get(app_id, -1e9) < self._config.wake_interval:
            return
        self._last_wake[app_id] = now
        if len(self._last_wake) > 10_000:  # apps come and go; keep the map small
            self._last_wake = {k: v for k, v in self._last_wake.items() if now - v < 60}
        task = loop.create_task(self._send_wake(app_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_wake(self, app_id: str) -> None:
        try:
            response = await self._client.post(self._base + WAKE_PATH, json={"app_id": app_id})
            if response.status_code >= 300:
                log.warning("wake for %s answered %d", app_id, response.status_code)
        except (httpx.HTTPError, OSError) as exc:
            log.warning("wake for %s failed: %s", app_id, exc)

    async def aclose(self, flush_timeout: float = 1.0) -> None:
        """Send the last lines (briefly), then close the HTTP client."""
        if self._reports:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush(), flush_timeout)
        for task in list(self._tasks):
            task.cancel()
        await self._client.aclose()
