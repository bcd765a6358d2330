"""Browser logins (`heroku login`): the CLI waits while the person signs in on a page.

The CLI posts to the login host's `/auth` and gets three secrets: where the
browser goes (`browser_url`), where the CLI waits (`cli_url`) and the bearer
token it waits with. When the person signs in on that page, the new
authorization's token is handed to the waiting CLI once, then forgotten. The
pending logins live in memory only: the token is never written anywhere, and a
login interrupted by a restart is simply started again.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

from slipway.platform.errors import RateLimited

LOGIN_TIMEOUT = 10 * 60.0  # the CLI gives up after ten minutes too
# Starting a login needs no credentials, so how many may wait at once is bounded.
MAX_PENDING = 1000


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass
class _Pending:
    description: str
    poll_token_hash: str
    created: float
    # Set once the person has signed in (or declined).
    access_token: str | None = None
    error: str | None = None
    fetched: bool = False


@dataclass(frozen=True)
class LoginStart:
    browser_token: str
    cli_token: str
    poll_token: str


@dataclass(frozen=True)
class LoginResult:
    access_token: str | None
    error: str | None


class BrowserLogins:
    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        # Keyed by the browser token's hash, and the CLI token's hash pointing at it.
        self._by_browser: dict[str, _Pending] = {}
        self._by_cli: dict[str, str] = {}

    def _sweep(self, now: float) -> None:
        stale = [k for k, p in self._by_browser.items() if now - p.created > LOGIN_TIMEOUT]
        for key in stale:
            del self._by_browser[key]
        live = set(self._by_browser)
        self._by_cli = {c: b for c, b in self._by_cli.items() if b in live}

    def start(self, description: str) -> LoginStart:
        start = LoginStart(
            secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(32)
        )
        now = self._monotonic()
        with self._lock:
            self._sweep(now)
            if len(self._by_browser) >= MAX_PENDING:
                raise RateLimited(
                    "Too many logins are waiting; try again in a few minutes.", retry_after=60
                )
            key = _digest(start.browser_token)
            self._by_browser[key] = _Pending(description[:200], _digest(start.poll_token), now)
            self._by_cli[_digest(start.cli_token)] = key
        return start

    def description(self, browser_token: str) -> str | None:
        """The waiting login's description, or None when the link is unknown or done."""
        with self._lock:
            self._sweep(self._monotonic())
            pending = self._by_browser.get(_digest(browser_token))
            if pending is None or pending.access_token or pending.error:
                return None
            return pending.description

    def finish(self, browser_token: str, *, access_token: str | None, error: str | None) -> bool:
        """Hand the waiting CLI its token (or the reason there is none); False when the
        login is unknown, expired or already finished."""
        with self._lock:
            pending = self._by_browser.get(_digest(browser_token))
            if pending is None or pending.access_token or pending.error:
                return False
            pending.access_token, pending.error = access_token, error
            return True

    def poll(self, cli_token: str, poll_token: str) -> LoginResult | None:
        """The result once there is one (handed out once); None while still waiting.
        LookupError when the CLI's URL or its bearer token is wrong or expired."""
        now = self._monotonic()
        with self._lock:
            self._sweep(now)
            key = self._by_cli.get(_digest(cli_token))
            pending = self._by_browser.get(key) if key else None
            if pending is None or not secrets.compare_digest(
                pending.poll_token_hash, _digest(poll_token)
            ):
                raise LookupError("This login is not known or has expired.")
            if pending.access_token is None and pending.error is None:
                return None
            assert key is not None
            del self._by_browser[key]
            del self._by_cli[_digest(cli_token)]
            return LoginResult(pending.access_token, pending.error)
