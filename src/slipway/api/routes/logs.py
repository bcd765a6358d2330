"""Log sessions (`heroku logs`), the log stream itself (SSE or plain text), and log drains."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from slipway.api import serialize
from slipway.api.bodies import LogDrainCreate, LogSessionCreate
from slipway.api.deps import current_account, get_platform
from slipway.api.errors import error_response
from slipway.platform import drains, log_sessions, views
from slipway.platform.errors import NotFound, Unavailable
from slipway.platform.ports import LogEntry

router = APIRouter()
Actor = Annotated[views.Actor, Depends(current_account)]

KEEPALIVE_SECONDS = 10.0
_ENDED = "This log session ended: its token was revoked or expired, or access was removed."
# A plain message, which the CLI prints; it then reconnects and is refused.
ENDED_SSE = f"data: {_ENDED}\n\n".encode()
ENDED_TEXT = f"{_ENDED}\n".encode()


@router.post("/apps/{app}/log-sessions", status_code=201)
def create_log_session(
    app: str,
    request: Request,
    response: Response,
    actor: Actor,
    body: LogSessionCreate | None = None,
) -> dict[str, Any]:
    body = body or LogSessionCreate()
    with get_platform(request).tx() as tx:
        session = log_sessions.create_log_session(
            tx,
            actor,
            app,
            lines=body.lines if body.lines is not None else body.num,
            tail=bool(body.tail),
            source=body.source or None,
            dyno=body.dyno or body.dyno_name or body.ps or body.type or None,
        )
    if session.warning:
        # Both CLIs print this header as a warning.
        response.headers["X-Heroku-Warning"] = session.warning
    url = f"{request.app.state.public_url}/log-stream/{session.token}"
    return serialize.log_session(session, url)


def _sse(lines: Sequence[LogEntry]) -> bytes:
    data = "".join(f"data: {line.format()}\n" for line in lines)
    return f"id: {lines[-1].seq}\n{data}\n".encode()


def _text(lines: Sequence[LogEntry]) -> bytes:
    return "".join(line.format() + "\n" for line in lines).encode()


@router.get("/log-stream/{token}")
async def log_stream(token: str, request: Request) -> Response:
    """The logplex_url: no Authorization, the URL is the capability (as Heroku's)."""
    sse = "text/event-stream" in request.headers.get("accept", "")
    render = _sse if sse else _text
    last_event_id = request.headers.get("last-event-id", "")
    # isdecimal() alone admits other scripts' digits, which int() may refuse.
    after = int(last_event_id) if last_event_id.isascii() and last_event_id.isdecimal() else None
    # Opened here, on the loop that reads the tail, so a refusal is the response's status.
    try:
        logs = log_sessions.open_log_stream(get_platform(request), token, after=after)
    except NotFound as exc:
        return error_response(404, "not_found", exc.message)
    except Unavailable as exc:
        return error_response(503, "unavailable", exc.message)

    async def stream() -> AsyncIterator[bytes]:
        try:
            if sse:
                # A short retry makes the official CLI finish promptly after a
                # non-tail session closes, and reconnect quickly while tailing.
                yield b"retry: 100\n\n"
            backlog = logs.backlog()
            if backlog:
                yield render(backlog)
            if not logs.tailing:
                return
            while True:
                try:
                    fresh = await logs.next_batch(KEEPALIVE_SECONDS)
                except log_sessions.AccessEnded:
                    yield ENDED_SSE if sse else ENDED_TEXT
                    return
                if fresh:
                    yield render(fresh)
                elif sse:
                    yield b": keep-alive\n\n"
        finally:
            logs.close()

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
