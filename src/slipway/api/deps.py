"""Request dependencies: the platform, and the authenticated account."""

from __future__ import annotations

import base64
import binascii

from fastapi import Request

from slipway.api.ratelimit import RateLimiter
from slipway.platform import accounts, views
from slipway.platform.errors import RateLimited, Unauthorized
from slipway.platform.tx import Platform


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def token_from_header(value: str | None) -> str | None:
    """Bearer TOKEN, or Basic with the API key as the password (any user name), as Heroku."""
    if not value:
        return None
    scheme, _, credentials = value.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return credentials or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, _, password = decoded.partition(":")
        return password or None
    return None


def current_account(request: Request) -> views.Account:
    token = token_from_header(request.headers.get("authorization"))
    if token is None or token == "undefined":
        raise Unauthorized("There were no credentials in your request; log in first.")
    with get_platform(request).tx() as tx:
        account = accounts.authenticate(tx, token)
    limiter: RateLimiter = request.app.state.rate_limiter
    remaining = limiter.take(account.id)
    if remaining is None:
        raise RateLimited("Your account reached the API rate limit; wait a minute and retry.")
    request.scope.setdefault("state", {})["ratelimit_remaining"] = remaining
    return account
