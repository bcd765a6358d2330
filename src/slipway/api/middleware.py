"""Pure ASGI middleware for what every API response shares, one small piece each.

`ApiMiddleware` is the one the app adds. Paths under its raw prefixes (uploads,
streams, the git hook's callback) and non-HTTP scopes go straight to the app;
everything else passes through these pieces, outermost first:

    ETag            whole JSON answers to reads get an ETag; If-None-Match -> 304
    RateLimitHeader RateLimit-Remaining, as the auth dependency counted it
    RequestId       a Request-Id on the request's state and on every response
    AcceptVersion   406 for a Heroku Accept header that is not version 3
    BodyLimit       413 past the size limit; the body read whole, and read as JSON

The order is what it is for two reasons: the refusals (406, 413) carry a
Request-Id, so RequestId wraps them; and each piece appends its response headers
after the ones inside it, so this order gives
`..., request-id, ratelimit-remaining, etag, content-length`.

Pure ASGI (not BaseHTTPMiddleware) so streaming responses pass through untouched.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY = 1024 * 1024
_VERSION_RE = re.compile(r"application/vnd\.heroku\+json\s*;\s*version=([\w.-]+)")


def _header(scope: Scope, name: bytes) -> str | None:
    """A request header's value (the last one, if repeated), or None."""
    value = None
    for k, v in scope["headers"]:
        if k.lower() == name:
            value = v.decode("latin-1")
    return value


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class ETag:
    """Buffers a 200 JSON answer to GET/HEAD, tags it, and answers 304 on a match."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        if_none_match = _header(scope, b"if-none-match")
        start: Message | None = None
        chunks: list[bytes] = []

        async def send_tagged(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                content_type = dict(message["headers"]).get(b"content-type", b"")
                # Only whole JSON answers get an ETag; streams go straight through.
                if message["status"] == 200 and content_type.startswith(b"application/json"):
                    start = message
                    return
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    await _send_tagged(send, start, b"".join(chunks), if_none_match)
                return
            await send(message)

        await self.app(scope, receive, send_tagged)


async def _send_tagged(send: Send, start: Message, body: bytes, if_none_match: str | None) -> None:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
    headers.append((b"etag", etag.encode()))
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        await send({**start, "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    headers.append((b"content-length", str(len(body)).encode()))
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RateLimitHeader:
    """RateLimit-Remaining on the response, when the request was counted (deps.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_remaining(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Read at response time: the count is made while the request is handled.
                state = scope.get("state", {})
                if "ratelimit_remaining" in state:
                    remaining = (b"ratelimit-remaining", str(state["ratelimit_remaining"]).encode())
                    message = {**message, "headers": [*message.get("headers", []), remaining]}
            await send(message)

        await self.app(scope, receive, send_remaining)


class RequestId:
    """A fresh Request-Id: on `scope["state"]` for handlers and logs, and on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = str(uuid.uuid4())
        id_header = (b"request-id", request_id.encode())
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), id_header]}
            await send(message)

        await self.app(scope, receive, send_with_id)


class AcceptVersion:
    """Refuses (406) a Heroku Accept header for any version but 3; others pass."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        accept = _header(scope, b"accept") or ""
        match = _VERSION_RE.search(accept)
        if "vnd.heroku+json" in accept and (match is None or not match[1].startswith("3")):
            await _send_json(
                send,
                406,
                {
                    "id": "not_acceptable",
                    "message": "Only version 3 of the API is served here; send "
                    "`Accept: application/vnd.heroku+json; version=3`.",
                },
            )
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """Reads the whole body first, refusing (413) one past `max_body`, and replays it.

    API bodies are small, so an oversized chunked upload is refused before any
    handler runs. A body that is there is read as JSON whatever its content type.
    """

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await _send_json(send, 413, self._too_large())
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before sending it all
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _send_json(send, 413, self._too_large())
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body.strip():
            # The API speaks only JSON: a body sent without a JSON content type
            # (curl -d, some scripts) is read as JSON rather than as a form.
            scope = {
                **scope,
                "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
                + [(b"content-type", b"application/json")],
            }
        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay_receive, send)

    def _too_large(self) -> dict[str, str]:
        return {
            "id": "request_entity_too_large",
            "message": f"The request body is larger than {self.max_body} bytes; send less.",
        }


class ApiMiddleware:
    """The pieces above around the JSON API; raw paths and non-HTTP scopes bypass them."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        raw_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.max_body = max_body
        # Paths that are not the JSON API (uploads, streams, the git hook's callback):
        # their bodies are streamed, not buffered, and they carry no Accept header.
        self.raw_prefixes = raw_prefixes
        self.api = ETag(RateLimitHeader(RequestId(AcceptVersion(BodyLimit(app, max_body)))))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.raw_prefixes):
            await self.app(scope, receive, send)
            return
        await self.api(scope, receive, send)
