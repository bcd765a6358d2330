"""Pure ASGI middleware for what every API response shares.

Request-Id, the Accept version check, the body size limit, ETag/If-None-Match
and RateLimit-Remaining. Pure ASGI (not BaseHTTPMiddleware) so streaming
responses pass through untouched.
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


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: list[Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class ApiMiddleware:
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.raw_prefixes):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = str(uuid.uuid4())
        id_header = (b"request-id", request_id.encode())
        scope.setdefault("state", {})["request_id"] = request_id

        accept = headers.get("accept", "")
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
                [id_header],
            )
            return

        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await _send_json(send, 413, self._too_large(), [id_header])
            return

        # API bodies are small: read the whole body first (bounded), so an
        # oversized chunked upload is refused before any handler runs.
        chunks_in: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _send_json(send, 413, self._too_large(), [id_header])
                return
            chunks_in.append(chunk)
            more = message.get("more_body", False)
        body_in = b"".join(chunks_in)
        if body_in.strip():
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
                return {"type": "http.request", "body": body_in, "more_body": False}
            return await receive()

        is_get = scope["method"] in ("GET", "HEAD")
        if_none_match = headers.get("if-none-match")
        start: Message | None = None
        chunks: list[bytes] = []
        buffering = False

        async def wrapped_send(message: Message) -> None:
            nonlocal start, buffering
            if message["type"] == "http.response.start":
                extra = [id_header]
                state = scope.get("state", {})
                if "ratelimit_remaining" in state:
                    extra.append(
                        (b"ratelimit-remaining", str(state["ratelimit_remaining"]).encode())
                    )
                message = {**message, "headers": [*message.get("headers", []), *extra]}
                content_type = dict(message["headers"]).get(b"content-type", b"")
                # Only whole JSON answers to reads get an ETag; streams go straight through.
                buffering = (
                    is_get
                    and message["status"] == 200
                    and content_type.startswith(b"application/json")
                )
                if not buffering:
                    await send(message)
                    return
                start = message
                return
            if message["type"] == "http.response.body" and buffering and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = b"".join(chunks)
                etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                hdrs = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
                hdrs.append((b"etag", etag.encode()))
                if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
                    await send({**start, "status": 304, "headers": hdrs})
                    await send({"type": "http.response.body", "body": b""})
                    return
                hdrs.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": hdrs})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, replay_receive, wrapped_send)

    def _too_large(self) -> dict[str, str]:
        return {
            "id": "request_entity_too_large",
            "message": f"The request body is larger than {self.max_body} bytes; send less.",
        }
