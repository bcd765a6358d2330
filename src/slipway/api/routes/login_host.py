"""The login host the CLI's browser `heroku login` talks to, and the invitation pages.

`POST /auth` starts a login and answers the URLs the CLI needs; the person
signs in on `/auth/cli/browser/TOKEN` (a plain HTML form, nothing fetched from
elsewhere); the CLI long-polls `/auth/cli/fetch/TOKEN` with its bearer token
and receives its new authorization's token once. Set HEROKU_LOGIN_HOST to the
API's URL (`slipway heroku-env` does).
"""

from __future__ import annotations

import asyncio
import html
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from slipway.api import serialize
from slipway.api.bodies import InvitationAccept, LoginStart
from slipway.api.deps import address_of, get_platform, token_from_header
from slipway.platform import authorizations, invitations, signin
from slipway.platform.browser_login import LOGIN_TIMEOUT
from slipway.platform.errors import PlatformError
from slipway.platform.permissions import ACCOUNT_WRITE

router = APIRouter()
# The HTML pages a person opens in a browser are not API resources: they answer pages,
# errors included, so they stay out of the OpenAPI schema the API's clients read.

POLL_INTERVAL = 0.25
# What the CLI's own `login -i` asks for: thirty days.
BROWSER_LOGIN_SECONDS = 30 * 24 * 3600

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}"
    "label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.4rem;font-size:1rem}"
    "button{margin-top:1rem;padding:.5rem 1rem;font-size:1rem}.error{color:#b00020}"
)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
    )


async def _form(request: Request) -> dict[str, str]:
    fields = parse_qs((await request.body()).decode("utf-8", "replace"))
    return {k: v[0] for k, v in fields.items() if v}


@router.post("/auth")
def start(request: Request, body: LoginStart | None = None) -> dict[str, Any]:
    description = (body.description if body else None) or "Heroku CLI login"
    started = get_platform(request).browser_logins.start(description)
    return {
        "browser_url": f"/auth/cli/browser/{started.browser_token}",
        "cli_url": f"/auth/cli/fetch/{started.cli_token}",
        "token": started.poll_token,
    }


def _sign_in_form(description: str, error: str = "", email: str = "") -> str:
    message = f"<p class='error'>{html.escape(error)}</p>" if error else ""
    return (
        f"<p>Sign in to Slipway for <b>{html.escape(description)}</b>.</p>{message}"
        "<form method='post'>"
        "<label for='email'>Email</label>"
        f"<input id='email' name='email' type='email' autocomplete='username' required "
        f"value='{html.escape(email, quote=True)}'>"
        "<label for='password'>Password</label>"
        "<input id='password' name='password' type='password' "
        "autocomplete='current-password' required>"
        "<button type='submit' name='action' value='login'>Log in</button> "
        "<button type='submit' name='action' value='deny' formnovalidate>Cancel</button>"
        "</form>"
    )


@router.get("/auth/cli/browser/{token}", include_in_schema=False)
def browser_page(token: str, request: Request) -> HTMLResponse:
    description = get_platform(request).browser_logins.description(token)
    if description is None:
        return _page("Log in", "<p>This login link has expired; run the login again.</p>", 404)
    return _page("Log in", _sign_in_form(description))


@router.post("/auth/cli/browser/{token}", include_in_schema=False)
async def browser_sign_in(token: str, request: Request) -> HTMLResponse:
    platform = get_platform(request)
    logins = platform.browser_logins
    description = logins.description(token)
    if description is None:
        return _page("Log in", "<p>This login link has expired; run the login again.</p>", 404)
    form = await _form(request)
    if form.get("action") == "deny":
        logins.finish(token, access_token=None, error="The login was cancelled in the browser.")
        return _page("Log in", "<p>Cancelled. You can close this window.</p>")
    email = form.get("email", "")

    def sign_in() -> str:
        actor = signin.sign_in(
            platform,
            email,
            form.get("password", ""),
            address=address_of(request),
            need=ACCOUNT_WRITE,
        )
        with platform.tx() as tx:
            made = authorizations.create_authorization(
                tx,
                actor,
                description=description,
                scope=["global"],
                expires_in=BROWSER_LOGIN_SECONDS,
            )
        return made.token

    try:
        access_token = await asyncio.to_thread(sign_in)
    except PlatformError as exc:
        status = 429 if exc.id == "rate_limit" else 401
        return _page("Log in", _sign_in_form(description, exc.message, email), status)
    if not logins.finish(token, access_token=access_token, error=None):
        return _page("Log in", "<p>This login link has expired; run the login again.</p>", 404)
    return _page("Logged in", "<p>You are logged in. You can close this window.</p>")


@router.get("/auth/cli/fetch/{token}")
async def fetch(token: str, request: Request) -> Response:
    """Long-polled by the CLI until the person signs in: `{access_token, error}`."""
    poll_token = token_from_header(request.headers.get("authorization")) or ""
    logins = get_platform(request).browser_logins
    waited = 0.0
    while waited < LOGIN_TIMEOUT:
        try:
            result = logins.poll(token, poll_token)
        except LookupError as exc:
            return JSONResponse({"id": "not_found", "message": str(exc)}, 404)
        if result is not None:
            return JSONResponse({"access_token": result.access_token, "error": result.error})
        if await request.is_disconnected():
            return Response(status_code=499)
        await asyncio.sleep(POLL_INTERVAL)
        waited += POLL_INTERVAL
    return JSONResponse(
        {"access_token": None, "error": "The login timed out; run heroku login again."}
    )


# -- invitations ---------------------------------------------------------------------------


def _invitation_form(invited: str, existing: bool, error: str = "") -> str:
    message = f"<p class='error'>{html.escape(error)}</p>" if error else ""
    if existing:
        fields = (
            "<p>You have an account already: give its password to accept.</p>"
            "<label for='password'>Password</label>"
            "<input id='password' name='password' type='password' required>"
        )
    else:
        fields = (
            "<label for='name'>Your name</label><input id='name' name='name'>"
            "<label for='password'>Choose a password</label>"
            "<input id='password' name='password' type='password' "
            "autocomplete='new-password' required>"
        )
    return (
        f"<p>{html.escape(invited)}</p>{message}<form method='post'>{fields}"
        "<button type='submit'>Accept</button></form>"
    )


def _invited_to(invitation: Any) -> str:
    team = (
        f" and to join the team {invitation.team.name} as {invitation.role}"
        if invitation.team
        else ""
    )
    return f"{invitation.invited_by} invited {invitation.email} to Slipway{team}."


@router.get("/invitations/{token}", include_in_schema=False)
def invitation_page(token: str, request: Request) -> HTMLResponse:
    try:
        with get_platform(request).tx() as tx:
            shown = invitations.show(tx, token)
            existing = invitations.has_account(tx, shown)
    except PlatformError as exc:
        return _page("Invitation", f"<p>{html.escape(exc.message)}</p>", 410)
    return _page("Invitation", _invitation_form(_invited_to(shown), existing))


@router.post("/invitations/{token}", include_in_schema=False)
async def invitation_accept_form(token: str, request: Request) -> HTMLResponse:
    form = await _form(request)
    platform = get_platform(request)

    def accept() -> None:
        with platform.tx() as tx:
            invitations.accept(
                tx,
                token,
                password=form.get("password", ""),
                name=form.get("name", ""),
                address=address_of(request),
            )

    try:
        await asyncio.to_thread(accept)
    except PlatformError as exc:
        try:
            with platform.tx() as tx:
                shown = invitations.show(tx, token)
                existing = invitations.has_account(tx, shown)
        except PlatformError:
            return _page("Invitation", f"<p>{html.escape(exc.message)}</p>", 410)
        return _page("Invitation", _invitation_form(_invited_to(shown), existing, exc.message), 422)
    return _page(
        "Welcome",
        "<p>Your invitation is accepted. Sign in with <code>heroku login</code> or "
        "<code>slipway login</code>.</p>",
    )


@router.post("/invitations/{token}/actions/accept", status_code=201)
def invitation_accept(token: str, body: InvitationAccept, request: Request) -> dict[str, Any]:
    """The same as the page, for scripts: the account it made (or joined a team with)."""
    with get_platform(request).tx() as tx:
        account = invitations.accept(
            tx, token, password=body.password, name=body.name or "", address=address_of(request)
        )
    return serialize.account(account)
