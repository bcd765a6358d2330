"""The dashboard's door: every page and form goes through `door`, as every API route goes
through `api/deps.authorise_request`.

`door(KEY)` looks the page up in `platform/route_rules.DASHBOARD` (a page without a
rule cannot be declared), finds the session from its cookie, checks the CSRF token
of a POST, and, for `/apps/{app}/...`, whether the person may see the app: another
person's app, or one that does not exist, is the same 404 page. The handler runs
in a worker thread (the platform's use cases block) with a `Page` that carries the
actor, already holding the rule's need.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from slipway.dashboard.sessions import (
    FLASH_COOKIE,
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    CsrfTokens,
    clear_cookie,
    set_cookie,
)
from slipway.platform import apps, authorizations, route_rules, views
from slipway.platform.errors import Forbidden, NotFound, PlatformError, Unauthorized
from slipway.platform.route_rules import Door, Rule
from slipway.platform.tx import Platform

log = logging.getLogger("slipway.dashboard")

TEMPLATES = Path(__file__).parent / "templates"
NOT_FOUND = "There is no such app, or you do not have access to it."
NO_CSRF = "This form is missing its security token; reload the page and try again."
SESSION_ENDED = "Your session has ended; sign in again."

# Self only: no inline script, no outside host, no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass
class Dashboard:
    """What every page needs: the platform, the templates, the CSRF key, the deployer."""

    platform: Platform
    csrf: CsrfTokens
    templates: jinja2.Environment
    deployer: Any = None  # platform.deploys.Deployer, for build output (None in tests)
    release_outputs: Any = None  # platform.release_output.ReleaseOutputs
    api_url: str = ""
    git_url: Callable[[str], str] = field(default=lambda name: name)


def make_templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda d: d.strftime("%Y-%m-%d %H:%M:%S UTC") if d else ""
    return env


@dataclass
class Page:
    """One request to a page or form, as its handler (in a worker thread) sees it."""

    request: Request
    dash: Dashboard
    actor: views.Actor | None
    form: dict[str, str]
    csrf_token: str
    flash: str = ""

    @property
    def platform(self) -> Platform:
        return self.dash.platform

    @property
    def me(self) -> views.Actor:
        assert self.actor is not None
        return self.actor

    @property
    def app(self) -> str:
        return str(self.request.path_params.get("app", ""))

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        body = self.dash.templates.get_template(template).render(
            me=self.actor,
            csrf=self.csrf_token,
            flash=self.flash,
            path=self.request.url.path,
            **context,
        )
        return HTMLResponse(body, status_code=status)

    def part(self) -> str:
        """The live region a page's script asks for (`?part=NAME`), or "" for the page."""
        return self.query("part")

    def redirect(self, to: str, flash: str = "") -> Response:
        response = RedirectResponse(to, status_code=303)
        if flash:
            set_cookie(self.request, response, FLASH_COOKIE, urllib.parse.quote(flash), 60)
        return response


Handler = Callable[[Page], Response]


def _message_page(dash: Dashboard, status: int, title: str, message: str) -> HTMLResponse:
    body = dash.templates.get_template("message.html").render(
        me=None, csrf="", flash="", path="", title=title, message=message
    )
    return HTMLResponse(body, status_code=status)


async def _form(request: Request) -> dict[str, str]:
    if request.method != "POST":
        return {}
    body = await request.body()
    fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def _to_signin(request: Request, message: str = "") -> Response:
    if request.headers.get("x-requested-with") == "fetch":
        return JSONResponse({"id": "unauthorized", "message": SESSION_ENDED}, 401)
    # Back to where the person was (the page's state kept in its address); after a form,
    # the page the form was on.
    here = request.url.path
    if request.method == "GET" and request.url.query:
        here += "?" + request.url.query
    elif request.method != "GET":
        referer = urllib.parse.urlsplit(request.headers.get("referer", ""))
        same = referer.netloc == request.headers.get("host", "")
        here = (referer.path + ("?" + referer.query if referer.query else "")) if same else "/"
    target = "/signin?" + urllib.parse.urlencode(
        {"next": here, **({"m": message} if message else {})}
    )
    response = RedirectResponse(target, status_code=303)
    clear_cookie(request, response, SESSION_COOKIE)
    return response


def with_headers(response: Response) -> Response:
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    return response


def door(dash: Dashboard, key: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint for page `key` ("GET /apps/{app}/resources"), see the module's docstring."""
    rule: Rule | None = route_rules.DASHBOARD.get(key)
    if rule is None:
        raise LookupError(f"the dashboard's {key} has no rule in platform/route_rules.DASHBOARD")

    async def endpoint(request: Request) -> Response:
        form = await _form(request)
        flash = urllib.parse.unquote(request.cookies.get(FLASH_COOKIE, ""))

        def work() -> Response:
            actor = None
            csrf = ""
            if rule.door is Door.TOKEN:
                token = request.cookies.get(SESSION_COOKIE)
                if not token:
                    return _to_signin(request)
                try:
                    with dash.platform.tx() as tx:
                        actor = authorizations.authenticate(
                            tx, token, address=request.client.host if request.client else None
                        ).needing(rule.need)
                        app = request.path_params.get("app")
                        if app is not None:
                            apps.find_app_row(tx, actor, app)
                except Unauthorized:
                    return _to_signin(request, SESSION_ENDED)
                except (NotFound, Forbidden):
                    return _message_page(dash, 404, "Not found", NOT_FOUND)
                assert actor is not None
                assert actor.authorization_id is not None
                csrf = dash.csrf.for_session(actor.authorization_id)
                if request.method == "POST":
                    given = form.get("csrf") or request.headers.get("x-csrf-token", "")
                    if not given or not dash.csrf.check(actor.authorization_id, given):
                        return _message_page(dash, 403, "Refused", NO_CSRF)
            else:
                csrf = request.cookies.get(PRESESSION_COOKIE, "")
            page = Page(request, dash, actor, form, csrf, flash)
            try:
                return handler(page)
            except (NotFound, Forbidden):
                return _message_page(dash, 404, "Not found", NOT_FOUND)
            except PlatformError as exc:
                return _message_page(dash, 422, "That did not work", exc.message)

        try:
            response = await asyncio.to_thread(work)
        except Exception:
            log.exception("dashboard page %s failed", key)
            response = _message_page(
                dash, 500, "Something went wrong", "Something went wrong on our side; try again."
            )
        if flash:
            clear_cookie(request, response, FLASH_COOKIE)
        return with_headers(response)

    return endpoint
