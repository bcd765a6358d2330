"""Connections to dynos: kept alive and reused, opened with a timeout and retries.

Idle connections are kept per dyno address in a LIFO list: the most recently used
connection is the least likely to have been closed by the dyno's own keep-alive
timer, and the ones at the bottom age out. A connect that fails quarantines that
dyno for a few seconds and the request moves to another dyno (behavior.md §2.1).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from slipway.router.backend import BackendConnection
from slipway.router.balancer import AppBalancer, DynoSlot
from slipway.router.clock import Clock
from slipway.router.config import RouterConfig
from slipway.router.errors import BackendConnectError


class ConnectionPool:
    __slots__ = ("_clock", "_config", "_idle", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, config: RouterConfig, clock: Clock) -> None:
        self._loop = loop
        self._clock = clock
        self._config = config
        self._idle: dict[str, list[BackendConnection]] = {}

    def take(self, key: str) -> BackendConnection | None:
        """The most recently used idle connection to a dyno, if any is still open."""
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    def give(self, conn: BackendConnection) -> None:
        """Keep a connection whose last response ended cleanly, or close it if full."""
        conn.exchange = None
        if conn.closed:
            return
        idle = self._idle.get(conn.key)
        if idle is None:
            idle = self._idle[conn.key] = []
        if len(idle) >= self._config.pool_idle_per_dyno:
            conn.close()
            return
        if conn.paused:
            conn.resume_reading()  # it was paused for a slow client
        conn.reused = True
        conn.idle_since = self._clock.now
        idle.append(conn)

    def discard(self, conn: BackendConnection) -> None:
        """Forget an idle connection the dyno closed."""
        idle = self._idle.get(conn.key)
        if idle is not None and conn in idle:
            idle.remove(conn)

    async def connect(self, slot: DynoSlot) -> BackendConnection:
        """One connection attempt, bounded by connect_timeout (H19)."""
        config = self._config

        def factory() -> BackendConnection:
            return BackendConnection(
                self, self._clock, slot.key, config.max_response_head_bytes, config.request_buffer
            )

        _, conn = await asyncio.wait_for(
            self._loop.create_connection(factory, slot.host, slot.port),
            config.connect_timeout,
        )
        return conn

    async def connect_any(
        self,
        app: AppBalancer,
        slot: DynoSlot,
        release: Callable[[AppBalancer, DynoSlot], None],
    ) -> tuple[BackendConnection, DynoSlot]:
        """Connect to `slot`'s dyno, or to other dynos of the app when that fails.

        The caller's place on `slot` moves with the attempts: on success the
        returned slot holds it; on failure or cancellation it has been released.
        """
        config = self._config
        started = self._loop.time()
        tried: set[str] = set()
        code = "H21"
        while True:
            tried.add(slot.key)
            try:
                return await self.connect(slot), slot
            except TimeoutError:
                code = "H19"
            except OSError:
                code = "H21"
            except BaseException:
                release(app, slot)
                raise
            now = self._clock.tick()
            slot.quarantined_until = now + config.quarantine
            release(app, slot)
            if len(tried) >= config.max_connect_attempts:
                break
            next_slot = app.acquire(now, frozenset(tried))
            if next_slot is None:
                break
            slot = next_slot
        raise BackendConnectError(code, slot.name, round((self._loop.time() - started) * 1000))

    def __bool__(self) -> bool:
        """Whether any kept-alive dyno connection waits in the pool."""
        return bool(self._idle)

    def prune(self, live: set[str]) -> None:
        """Close idle connections to dynos that left the route table."""
        for key in [key for key in self._idle if key not in live]:
            for conn in self._idle.pop(key):
                conn.close()

    def sweep(self, now: float, max_idle: float) -> None:
        """Close connections idle longer than `max_idle` (oldest sit at the bottom)."""
        for key, idle in list(self._idle.items()):
            while idle and now - idle[0].idle_since > max_idle:
                idle.pop(0).close()
            if not idle:
                del self._idle[key]

    def close_all(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
