"""Dashboard sessions: a cookie holding an authorization's token, and CSRF tokens bound to it.

Signing in makes an OAuth authorization (hashed in the store like every token,
listed by `heroku authorizations`, revocable there or by signing out); the
cookie carries its token, HttpOnly, SameSite=Lax, and Secure when the request
came over HTTPS. Every form and every fetch that changes something carries a
CSRF token: an HMAC of the authorization's id under the server's secret, so it
cannot be made without the secret and dies with the session. The sign-in form,
before any session, uses a random cookie and the same value in the form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "slipway_session"
PRESESSION_COOKIE = "slipway_signin"
FLASH_COOKIE = "slipway_flash"
# How long a dashboard session lasts (Heroku's dashboard asks again after a few hours).
SESSION_SECONDS = 12 * 3600


def is_https(request: Request) -> bool:
    proto = request.headers.get("x-forwarded-proto") or request.url.scheme
    return proto == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=is_https(request))


class CsrfTokens:
    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"dashboard-csrf\0" + secret).digest()

    def for_session(self, authorization_id: str) -> str:
        return hmac.new(self._key, authorization_id.encode(), hashlib.sha256).hexdigest()

    def check(self, authorization_id: str, given: str) -> bool:
        return hmac.compare_digest(self.for_session(authorization_id), given)


def new_presession() -> str:
    return secrets.token_urlsafe(24)
