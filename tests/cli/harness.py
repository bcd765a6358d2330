"""The `slipway` CLI in process, against the real API application behind an httpx transport.

Fast CLI tests: no server process, no socket. The API is the same FastAPI
application `slipway server` serves, on its own SQLite store, without the dyno
manager, git or the router (so only commands of the API's own resources fit
here). What it cannot show (netrc on disk, exit codes of the real program,
a real server's ports) the subprocess tests in `test_slipway_cli.py` keep.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from starlette.types import ASGIApp

from slipway.api.app import create_api
from slipway.cli.context import CliContext
from slipway.main import cli  # the whole program, `server` included
from slipway.platform import accounts
from slipway.platform.settings import PlatformSettings
from slipway.platform.tx import Platform
from slipway.store import Store
from slipway.store.engine import sqlite_url

API_URL = "http://slipway.test"


class AsgiTransport(httpx.BaseTransport):
    """A synchronous httpx transport that runs an ASGI app on a loop of its own thread.

    httpx's own ASGITransport is async-only; the CLI's client is synchronous.
    Responses are read whole, so streamed endpoints (log tails) do not fit here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def forward() -> httpx.Response:
            inner = httpx.Request(
                request.method, request.url, headers=request.headers, content=request.read()
            )
            response = await self._inner.handle_async_request(inner)
            body = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=body)

        return asyncio.run_coroutine_threadsafe(forward(), self._loop).result(timeout=60)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


@dataclass(frozen=True)
class Result:
    """What a command printed and how it exited, as httpie's test helper returns it."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


class InProcessCli:
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(sqlite_url(data_dir / "slipway.db"))
        store.migrate()
        # Passwords hashed cheaply: the commands are under test, not argon2's cost.
        cheap = dataclasses.replace(
            PlatformSettings(), password_hash_time=1, password_hash_memory=256
        )
        self.platform = Platform(store, cheap)
        with self.platform.tx() as tx:
            created = accounts.bootstrap_admin(tx, "admin@slipway.test")
        assert created is not None
        self.admin_email = created[0].email
        self.admin_key = created[1]
        self.transport = AsgiTransport(create_api(self.platform, public_url=API_URL))
        self.home = data_dir / "home"
        self.home.mkdir(exist_ok=True)

    def __call__(self, *args: str, key: str | None = None, input: str | None = None) -> Result:
        """Run `slipway ARGS` with the admin's key (or `key`; "" for none)."""
        runner = CliRunner()
        env = {
            "HOME": str(self.home),
            "SLIPWAY_API_KEY": self.admin_key if key is None else key,
            "SLIPWAY_APP": None,
            "NETRC": None,
        }
        result = runner.invoke(
            cli,
            list(args),
            obj=CliContext(API_URL, transport=self.transport),
            env=env,
            input=input,
            catch_exceptions=False,
        )
        return Result(result.exit_code, result.stdout, result.stderr)

    def close(self) -> None:
        self.transport.close()
        self.platform.store.dispose()


def in_process_cli(tmp_path: Path) -> Iterator[InProcessCli]:
    harness = InProcessCli(tmp_path / "in-process")
    try:
        yield harness
    finally:
        harness.close()
