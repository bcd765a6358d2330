"""The rendezvous: where `heroku run` and `slipway run` meet their one-off dyno.

The API answers `POST /apps/{app}/dynos` with `rendezvous://HOST:PORT/SECRET`.
The client opens TLS to HOST:PORT and writes `SECRET\\r\\n`; we answer with a
banner line (the official CLI discards the first chunk it receives), then the
connection carries the dyno's terminal both ways (cli-contract.md §6).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger("slipway.rendezvous")

BANNER = b"rendezvous\r\n"
SECRET_LINE_TIMEOUT = 10.0

Attach = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class _Pending:
    attach: Attach
    used: bool = False


class Rendezvous:
    """A TLS listener; each secret admits one connection, handed to its dyno."""

    def __init__(self, ssl_context: ssl.SSLContext, public_host: str) -> None:
        self.ssl_context = ssl_context
        self.public_host = public_host
        self.port = 0
        self._pending: dict[str, _Pending] = {}
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._handle, host, port, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def expect(self, attach: Attach) -> str:
        """Register a dyno waiting for its client; returns the attach URL."""
        secret = secrets.token_urlsafe(24)
        self._pending[secret] = _Pending(attach)
        return f"rendezvous://{self.public_host}:{self.port}/{secret}"

    def cancel(self, url: str) -> None:
        self._pending.pop(url.rsplit("/", 1)[-1], None)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), SECRET_LINE_TIMEOUT)
        except (TimeoutError, ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            writer.close()
            return
        secret = line.decode("ascii", "replace").strip().lstrip("/").split("?", 1)[0]
        pending = self._pending.pop(secret, None)
        if pending is None:
            writer.write(b"This one-off dyno is unknown or already attached.\r\n")
            with contextlib.suppress(Exception):
                await writer.drain()
            writer.close()
            return
        writer.write(BANNER)
        try:
            await writer.drain()
            await pending.attach(reader, writer)
        except Exception:
            log.exception("attached session failed")
        finally:
            with contextlib.suppress(Exception):
                writer.close()
