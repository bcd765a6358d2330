"""The control plane's HTTP listeners (uvicorn): the API on loopback, git and the API over TLS.

A signal stops all of them together, after in-flight requests have finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from types import FrameType

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from slipway.server.config import ServerConfig
from slipway.tls import TlsFiles


class Listener(uvicorn.Server):
    """One of the listeners. A signal stops all of them together.

    uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown, which would skip
    our own clean-up and exit by signal; a stop we asked for should exit 0.
    """

    siblings: list[Listener]
    # Set when a stop begins: endless responses (the router's route stream) end then,
    # or uvicorn's graceful shutdown would wait for them forever.
    stopping: threading.Event

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if hasattr(self, "stopping"):
            self.stopping.set()
        for server in getattr(self, "siblings", [self]):
            uvicorn.Server.handle_exit(server, sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()


class ByHost:
    """Requests for `dashboard.<base domain>` (or any `dashboard.` host) go to the
    dashboard, everything else to the API: one listener serves both, and the router's
    `services` entry forwards the dashboard's host to it."""

    def __init__(self, api: ASGIApp, dashboard: ASGIApp, base_domain: str) -> None:
        self.api = api
        self.dashboard = dashboard
        self.host = f"dashboard.{base_domain}".encode()

    @staticmethod
    def _host(scope: Scope) -> bytes:
        for key, value in scope.get("headers", ()):
            if key == b"host":
                return bytes(value).split(b":", 1)[0].lower()
        return b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = self._host(scope)
            if host == self.host or host.startswith(b"dashboard."):
                await self.dashboard(scope, receive, send)
                return
        await self.api(scope, receive, send)


def listener(
    config: ServerConfig, app: ASGIApp, port: int, tls: TlsFiles | None = None
) -> Listener:
    return Listener(
        uvicorn.Config(
            app,
            host=config.host,
            port=port,
            log_level=config.log_level,
            # Off by default: request lines can carry capability tokens in URLs.
            access_log=config.access_log,
            server_header=False,
            timeout_graceful_shutdown=10,
            ssl_certfile=str(tls.cert) if tls else None,
            ssl_keyfile=str(tls.key) if tls else None,
        )
    )


def serve_together(servers: list[Listener], stopping: threading.Event) -> None:
    """Run every listener until a signal; uvicorn lets in-flight requests finish (and commit)."""
    for server in servers:
        server.siblings = servers
        server.stopping = stopping

    async def run() -> None:
        await asyncio.gather(*(s.serve() for s in servers))

    asyncio.run(run())
