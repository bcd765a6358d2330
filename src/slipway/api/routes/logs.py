"""Log sessions (`heroku logs`), the log stream itself (SSE or plain text), and log drains."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from slipway.api import serialize
from slipway.api.bodies import LogDrainCreate, LogSessionCreate
from slipway.api.deps import current_account, get_platform
from slipway.logs.line import LogLine
from slipway.logs.plex import LogFilter, Logplex, TooManyTails
from slipway.logs.sessions import SessionSigner
from slipway.platform import apps, drains, views
from slipway.platform.errors import InvalidParams

router = APIRouter()
Actor = Annotated[views.Account, Depends(current_account)]

DEFAULT_LINES = 100
MAX_LINES = 1500
KEEPALIVE_SECONDS = 10.0


def _logplex(request: Request) -> Logplex:
    plex: Logplex = request.app.state.logplex
    return plex


def _signer(request: Request) -> SessionSigner:
    signer: SessionSigner = request.app.state.log_sessions
    return signer


@router.post("/apps/{app}/log-sessions", status_code=201)
def create_log_session(
    app: str,
    request: Request,
    response: Response,
    actor: Actor,
    body: LogSessionCreate | None = None,
) -> dict[str, Any]:
    body = body or LogSessionCreate()
    lines = body.lines if body.lines is not None else body.num
    lines = DEFAULT_LINES if lines is None else lines
    if not 0 <= lines <= MAX_LINES:
        raise InvalidParams(f"lines must be between 0 and {MAX_LINES}; got {lines}.")
    source = body.source or None
    if source not in (None, "app", "heroku"):
        raise InvalidParams(f"source {source!r} is not known; use app or heroku.")
    dyno = body.dyno or body.dyno_name or body.ps or body.type or None
    with get_platform(request).tx() as tx:
        app_view = apps.get_app(tx, actor, app)
    token = _signer(request).issue(app_view.id, lines, bool(body.tail), source, dyno)
    history = _logplex(request).history
    evicted = history.evicted.get(app_view.id, 0)
    if evicted and lines > len(history.recent(app_view.id)):
        # Both CLIs print this header as a warning.
        response.headers["X-Heroku-Warning"] = (
            f"Only the last {history.limit} lines are kept; {evicted} older lines were dropped."
        )
    now = serialize.ts(get_platform(request).clock.now())
    return {
        "id": str(uuid.uuid4()),
        "logplex_url": f"{request.app.state.public_url}/log-stream/{token}",
        "created_at": now,
        "updated_at": now,
    }


def _sse(lines: list[LogLine]) -> bytes:
    data = "".join(f"data: {line.format()}\n" for line in lines)
    return f"id: {lines[-1].seq}\n{data}\n".encode()


def _text(lines: list[LogLine]) -> bytes:
    return "".join(line.format() + "\n" for line in lines).encode()


@router.get("/log-stream/{token}")
async def log_stream(token: str, request: Request) -> Response:
    """The logplex_url: no Authorization, the URL is the capability (as Heroku's)."""
    params = _signer(request).verify(token)
    if params is None:
        return PlainTextResponse("This log session is not valid or has expired.\n", 404)
    plex = _logplex(request)
    log_filter = LogFilter(params.source, params.dyno)
    sse = "text/event-stream" in request.headers.get("accept", "")
    render = _sse if sse else _text
    last_event_id = request.headers.get("last-event-id", "")
    loop = asyncio.get_running_loop()
    # Subscribe first, then read history: nothing published in between is lost,
    # and the sequence numbers weed out what would otherwise show twice.
    try:
        sub = plex.subscribe(params.app_id, log_filter, loop) if params.tail else None
    except TooManyTails:
        return PlainTextResponse(
            "Error L20 (Tail sessions forbidden): this app has too many live tails; "
            "close one and try again.\n",
            503,
        )

    async def stream() -> AsyncIterator[bytes]:
        try:
            if sse:
                # A short retry makes the official CLI finish promptly after a
                # non-tail session closes, and reconnect quickly while tailing.
                yield b"retry: 100\n\n"
            if last_event_id.isdigit():
                backlog = plex.since(params.app_id, log_filter, int(last_event_id))
            else:
                backlog = plex.recent(params.app_id, log_filter, params.lines)
            last_seq = int(last_event_id) if last_event_id.isdigit() else 0
            if backlog:
                last_seq = backlog[-1].seq
                yield render(backlog)
            if sub is None:
                return
            while True:
                batch = await sub.next_batch(KEEPALIVE_SECONDS)
                fresh = [line for line in batch if line.seq > last_seq or line.process == "logplex"]
                if fresh:
                    last_seq = max(last_seq, fresh[-1].seq)
                    yield render(fresh)
                elif sse:
                    yield b": keep-alive\n\n"
        finally:
            if sub is not None:
                plex.unsubscribe(sub)

    media = "text/event-stream; charset=utf-8" if sse else "text/plain; charset=utf-8"
    return StreamingResponse(stream(), media_type=media, headers={"Cache-Control": "no-cache"})


@router.get("/apps/{app}/log-drains")
def list_drains(app: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [serialize.log_drain(d) for d in drains.list_drains(tx, actor, app)]


@router.post("/apps/{app}/log-drains", status_code=201)
async def add_drain(
    app: str, body: LogDrainCreate, request: Request, actor: Actor
) -> dict[str, Any]:
    # Off the event loop: the platform checks the drain's host with a blocking probe.
    added = await asyncio.to_thread(drains.add_drain, get_platform(request), actor, app, body.url)
    return serialize.log_drain(added)


@router.get("/apps/{app}/log-drains/{ident:path}")
def get_drain(app: str, ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.log_drain(drains.get_drain(tx, actor, app, ident))


@router.delete("/apps/{app}/log-drains/{ident:path}")
def remove_drain(app: str, ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.log_drain(drains.remove_drain(tx, actor, app, ident))
