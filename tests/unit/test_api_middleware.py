"""ApiMiddleware in process: the exact ASGI messages each piece produces, and their order.

tests/api/test_conventions.py covers the same conventions through a real server;
these pin what an HTTP client cannot see easily (header order, what reaches the app).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from slipway.api.middleware import ApiMiddleware

UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


class EchoApp:
    """Answers 200 JSON (or `content_type`) with what it received; records the scope."""

    def __init__(self, content_type: bytes = b"application/json", echo: bool = True) -> None:
        self.content_type = content_type
        self.echo = echo
        self.scope: Scope | None = None
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        self.scope = scope
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        scope.setdefault("state", {})["ratelimit_remaining"] = 41
        payload = json.dumps({"body": body.decode()}).encode() if self.echo else b'{"a": 1}'
        headers = [(b"content-type", self.content_type), (b"content-length", b"%d" % len(payload))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload[:3], "more_body": True})
        await send({"type": "http.response.body", "body": payload[3:]})


def call(
    app: EchoApp,
    method: str = "GET",
    path: str = "/account",
    headers: tuple[tuple[str, str], ...] = (),
    chunks: tuple[bytes, ...] = (b"",),
) -> list[Message]:
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(k.encode(), v.encode()) for k, v in headers],
    }
    incoming: list[Message] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = ApiMiddleware(app, max_body=100, raw_prefixes=("/raw/",))
    asyncio.run(middleware(scope, receive, send))
    return sent


def names(message: Message) -> list[bytes]:
    return [k for k, _ in message["headers"]]


def test_a_read_gets_request_id_ratelimit_and_etag_in_that_order() -> None:
    app = EchoApp()
    start, body = call(app)
    assert start["status"] == 200
    assert names(start) == [
        b"content-type",
        b"request-id",
        b"ratelimit-remaining",
        b"etag",
        b"content-length",
    ]
    headers = dict(start["headers"])
    assert UUID.fullmatch(headers[b"request-id"])
    assert headers[b"ratelimit-remaining"] == b"41"
    assert body == {"type": "http.response.body", "body": b'{"body": ""}'}
    assert headers[b"content-length"] == b"12"
    assert app.scope is not None
    assert app.scope["state"]["request_id"] == headers[b"request-id"].decode()


def test_if_none_match_answers_304_without_a_body() -> None:
    first, _ = call(EchoApp(echo=False))
    etag = dict(first["headers"])[b"etag"].decode()
    start, body = call(EchoApp(echo=False), headers=(("If-None-Match", f'"other", {etag}'),))
    assert start["status"] == 304
    assert b"content-length" not in names(start)
    assert body == {"type": "http.response.body", "body": b""}


def test_writes_and_non_json_reads_are_streamed_untagged() -> None:
    for app, method in ((EchoApp(), "PATCH"), (EchoApp(b"text/plain"), "GET")):
        start, *bodies = call(app, method=method)
        assert names(start) == [
            b"content-type",
            b"content-length",
            b"request-id",
            b"ratelimit-remaining",
        ]
        assert len(bodies) == 2  # passed on as the app sent them


def test_other_api_versions_are_refused_with_a_request_id() -> None:
    app = EchoApp()
    start, body = call(app, headers=(("Accept", "application/vnd.heroku+json; version=2"),))
    assert start["status"] == 406
    assert names(start) == [b"content-type", b"content-length", b"request-id"]
    assert json.loads(body["body"])["id"] == "not_acceptable"
    assert app.calls == 0
    ok, _ = call(app, headers=(("accept", "application/vnd.heroku+json; version=3.sdk"),))
    assert ok["status"] == 200


def test_bodies_over_the_limit_are_refused_before_the_app() -> None:
    app = EchoApp()
    declared = call(app, method="POST", headers=(("Content-Length", "101"),))
    chunked = call(app, method="POST", chunks=(b"x" * 60, b"x" * 60))
    for start, body in (declared, chunked):
        assert start["status"] == 413
        assert names(start) == [b"content-type", b"content-length", b"request-id"]
        assert json.loads(body["body"])["id"] == "request_entity_too_large"
    assert app.calls == 0


def test_a_body_is_read_whole_and_as_json() -> None:
    app = EchoApp()
    _, *bodies = call(
        app,
        method="PATCH",
        headers=(("Content-Type", "application/x-www-form-urlencoded"),),
        chunks=(b'{"A":', b' "1"}'),
    )
    assert b"".join(b["body"] for b in bodies) == b'{"body": "{\\"A\\": \\"1\\"}"}'
    assert app.scope is not None
    assert app.scope["headers"] == [(b"content-type", b"application/json")]


def test_a_client_that_leaves_mid_body_gets_nothing() -> None:
    app = EchoApp()
    assert call(app, method="POST", chunks=()) == []
    assert app.calls == 0


def test_raw_prefixes_bypass_every_piece() -> None:
    app = EchoApp()
    start, *_ = call(app, method="POST", path="/raw/upload", chunks=(b"x" * 300,))
    assert names(start) == [b"content-type", b"content-length"]
    assert app.scope is not None
    assert "request_id" not in app.scope["state"]
