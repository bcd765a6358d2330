"""The front door's split by Host (server/listeners.ByHost) and the sign-in's `next`."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.dashboard.pages import _safe_next
from slipway.server.listeners import ByHost


def _named(name: str, calls: list[str]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(name)

    return app


@pytest.mark.parametrize(
    ("host", "goes_to"),
    [
        (b"dashboard.localhost:8080", "dashboard"),
        (b"DASHBOARD.localhost", "dashboard"),
        (b"dashboard.example.com", "dashboard"),
        (b"127.0.0.1:5000", "api"),
        (b"api.example.com", "api"),
        (b"mydashboard.localhost", "api"),
        (b"", "api"),
    ],
)
def test_the_dashboards_host_goes_to_the_dashboard(host: bytes, goes_to: str) -> None:
    calls: list[str] = []
    front = ByHost(_named("api", calls), _named("dashboard", calls), "localhost")
    headers = [(b"host", host)] if host else []

    async def receive() -> Message:
        return {"type": "http.request"}

    async def send(_: Message) -> None:
        pass

    asyncio.run(front({"type": "http", "headers": headers}, receive, send))
    assert calls == [goes_to]


def test_sign_in_sends_back_only_to_this_host() -> None:
    assert _safe_next("/apps/a/settings?x=1") == "/apps/a/settings?x=1"
    for elsewhere in ("https://evil.example", "//evil.example/x", "/\\evil.example", "evil"):
        assert _safe_next(elsewhere) == "/"
