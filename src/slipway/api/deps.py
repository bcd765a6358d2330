"""Request dependencies: the platform, and the one authorisation every route goes through.

`authorise_request` is installed on the whole application. It finds the
matched route's rule in `platform/route_rules.py` (a route without one is
refused), authenticates the token (Bearer, or Basic with the token as the
password; Basic email:password where the rule allows it), checks the token's
scope and, for `/apps/{app}/...` routes, the person's permissions on that app
through `platform.access`. The actor it hands the route carries the rule's
need, so every app a use case touches on the way is held to the same rule.
"""

from __future__ import annotations

import base64
import binascii
import logging

from fastapi import Request
from starlette.routing import Route

from slipway.api.ratelimit import RateLimiter
from slipway.platform import apps, authorizations, route_rules, signin, views
from slipway.platform.errors import Forbidden, RateLimited, Unauthorized
from slipway.platform.permissions import scope_refusal
from slipway.platform.route_rules import Door, Rule
from slipway.platform.tx import Platform

log = logging.getLogger("slipway.api")

NO_CREDENTIALS = "There were no credentials in your request; log in first."


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def _basic(credentials: str) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return user, password


def token_from_header(value: str | None) -> str | None:
    """Bearer TOKEN, or Basic with the token as the password (any user name), as Heroku."""
    if not value:
        return None
    scheme, _, credentials = value.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return credentials or None
    if scheme.lower() == "basic":
        pair = _basic(credentials)
        return (pair[1] or None) if pair else None
    return None


def _password_pair(value: str | None) -> tuple[str, str] | None:
    """Basic email:password (`heroku login -i`), told apart from Basic with a token by the
    email as the user name."""
    if not value:
        return None
    scheme, _, credentials = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    pair = _basic(credentials.strip())
    if pair is None or "@" not in pair[0] or not pair[1]:
        return None
    return pair


def address_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def route_rule(request: Request) -> Rule | None:
    route = request.scope.get("route")
    if not isinstance(route, Route):
        return None
    return route_rules.rule_for(request.method, route.path)


def authorise_request(request: Request) -> None:
    """Run before every route (see the module's docstring)."""
    rule = route_rule(request)
    if rule is None:
        route = request.scope.get("route")
        log.error("no permission rule for %s %s", request.method, getattr(route, "path", "?"))
        raise Forbidden("This endpoint has no permission rule yet, so nobody may use it.")
    if rule.door is not Door.TOKEN:
        return  # public, or checked by the handler (capability URLs, internal tokens)
    platform = get_platform(request)
    header = request.headers.get("authorization")
    address = address_of(request)
    pair = _password_pair(header) if rule.password else None
    if pair is not None:
        actor = signin.sign_in(platform, pair[0], pair[1], address=address, need=rule.need)
    else:
        key = token_from_header(header)
        if key is None or key == "undefined":
            raise Unauthorized(NO_CREDENTIALS)
        with platform.tx() as tx:
            actor = authorizations.authenticate(tx, key, address=address).needing(rule.need)
            refusal = scope_refusal(actor.scopes, rule.need)
            if refusal is not None:
                raise Forbidden(refusal)
            if rule.need.admin and not actor.is_admin:
                raise Forbidden("Only an admin of this Slipway can do this.")
            app = request.path_params.get("app")
            if app is not None:
                apps.find_app_row(tx, actor, app)  # 404 if missing, 403 if not allowed
    limiter: RateLimiter = request.app.state.rate_limiter
    remaining = limiter.take(actor.id)
    if remaining is None:
        raise RateLimited("Your account reached the API rate limit; wait a minute and retry.")
    request.scope.setdefault("state", {})["ratelimit_remaining"] = remaining
    request.state.actor = actor


def current_account(request: Request) -> views.Actor:
    """The actor `authorise_request` let in (a route asking for one must have a token rule)."""
    actor: views.Actor | None = getattr(request.state, "actor", None)
    if actor is None:
        raise Unauthorized(NO_CREDENTIALS)
    return actor
