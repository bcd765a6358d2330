"""Internal endpoints for the platform's own processes (the router), not for users.

The router authenticates with a token only the server and the router process
know (`<data>/router-token`, handed over in its environment).
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from slipway.api.deps import get_platform
from slipway.platform import router_feed
from slipway.platform.errors import Unauthorized
from slipway.platform.tx import Platform

router = APIRouter()
KEEPALIVE = 15.0


def _router_only(request: Request) -> Platform:
    expected: str | None = request.app.state.router_token
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        raise Unauthorized("This endpoint is for the platform's router only.")
    return get_platform(request)


@router.get("/internal/router/routes")
async def routes(request: Request) -> StreamingResponse:
    """Newline-delimited route tables: one now, another after every change."""
    platform = _router_only(request)
    router_feed.ensure_available(platform)
    once = request.query_params.get("once") == "1"
    stopping = request.app.state.stopping
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()

    def poke() -> None:
        loop.call_soon_threadsafe(changed.set)

    async def stream() -> AsyncIterator[bytes]:
        with router_feed.watching(platform, poke):
            # Right after a start, wait until every app is loaded: an empty first table
            # would make the router answer "no such app" for all of them.
            await asyncio.to_thread(router_feed.wait_until_loaded, platform, 15)
            version = 0
            while True:
                changed.clear()
                version += 1
                table = await asyncio.to_thread(router_feed.route_table, platform, version)
                yield json.dumps(table, separators=(",", ":")).encode() + b"\n"
                if once:
                    return
                waited = 0.0
                while not changed.is_set() and waited < KEEPALIVE:
                    if stopping.is_set():
                        return
                    try:
                        await asyncio.wait_for(changed.wait(), 0.5)
                    except TimeoutError:
                        waited += 0.5
                if not changed.is_set():
                    yield b"\n"
                    continue
                # Changes come in bursts (a rollover moves several dynos): coalesce.
                await asyncio.sleep(0.01)

    return StreamingResponse(stream(), media_type="application/x-ndjson")


class _Line(BaseModel):
    app_id: str
    line: str


class RouterReport(BaseModel):
    lines: list[_Line] = []
    activity: dict[str, float] = {}


class WakeRequest(BaseModel):
    app_id: str


@router.post("/internal/router/report")
def report(body: RouterReport, request: Request) -> dict[str, int]:
    """The router's request lines for the apps' log streams, and when each app was last used."""
    platform = _router_only(request)
    lines = [(item.app_id, item.line) for item in body.lines]
    return {"lines": router_feed.report(platform, lines, body.activity)}


@router.post("/internal/router/wake")
def wake(body: WakeRequest, request: Request) -> dict[str, str]:
    router_feed.wake(_router_only(request), body.app_id)
    return {"app_id": body.app_id}
